"""The spider and pipeline of the crawl tests (what a user's project would hold)."""
from __future__ import annotations

from urllib.parse import urljoin

import scrapy
from scrapy.exceptions import DropItem

from logkit.integrations.scrapy import parse_guard, set_item_status


class Product(scrapy.Item):
    sku = scrapy.Field()
    name = scrapy.Field()
    price = scrapy.Field()


class SiteSpider(scrapy.Spider):
    name = "testsite"

    def __init__(self, start_url: str, proxy: str | None = None, dead_proxy: str | None = None,
                 follow: bool = True, **kw):
        super().__init__(**kw)
        self.follow = follow
        self.start_url = start_url
        self.proxy = proxy
        self.dead_proxy = dead_proxy

    async def start(self):  # Scrapy >= 2.13
        for request in self.start_requests():
            yield request

    def start_requests(self):  # Scrapy < 2.13 (the lowest version logkit claims is 2.11)
        yield scrapy.Request(self.start_url, callback=self.parse)
        if self.proxy:  # through an authenticating proxy: credentials must never reach the log
            yield scrapy.Request(urljoin(self.start_url, "/page/9?via=proxy"), callback=self.parse_page,
                                 meta={"proxy": self.proxy}, dont_filter=True)
        if self.dead_proxy:  # through a proxy that refuses connections
            yield scrapy.Request(urljoin(self.start_url, "/page/8?via=dead-proxy"), callback=self.parse_page,
                                 meta={"proxy": self.dead_proxy, "max_retry_times": 0}, dont_filter=True)

    def parse(self, response):
        if not self.follow:
            return
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href)
            if href == "/items":
                yield scrapy.Request(url, callback=self.parse_items)
            elif href == "/broken":
                yield scrapy.Request(url, callback=self.parse_broken)
            else:
                yield scrapy.Request(url, callback=self.parse_page)

    def parse_page(self, response):
        self.logger.info("parsed a page")
        yield {"url": response.url, "title": response.css("title::text").get()}

    @parse_guard("product_list")
    def parse_items(self, response):
        for p in response.css("div.product"):
            yield Product(sku=p.attrib["data-sku"], name=p.css(".name::text").get(),
                          price=float(p.css(".price::text").get()))

    def parse_broken(self, response):
        with parse_guard("price", response=response, swallow=True):
            float(response.css(".price::text").get())
        raise ValueError("unguarded parser bug")


class StorePipeline:
    """Pretends to upsert: A1 already exists (updated), DROP is a duplicate, the rest are new."""

    def process_item(self, item, spider=None):
        if isinstance(item, Product):
            if item["sku"] == "DROP":
                raise DropItem("duplicate sku")
            return set_item_status(item, "updated" if item["sku"] == "A1" else "new")
        return item
