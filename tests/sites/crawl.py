"""Crawl a site with the logkit add-on: ``python -m tests.sites.crawl URL --log-file F``.

The correlation id comes from the LOGKIT_TRACE_ID environment variable (what
``logkit.integrations.trace_env()`` sets for a child process)."""
from __future__ import annotations

import argparse

from scrapy.crawler import CrawlerProcess

from tests.sites.spider import SiteSpider


def settings(log_file: str, service: str) -> dict:
    return {
        # --- what docs/scrapy.md tells a user to set ---
        "ADDONS": {"logkit.integrations.scrapy.LogkitAddon": 0},
        "LOGKIT_SERVICE": service,
        "LOGKIT_ENVIRONMENT": "test",
        "LOGKIT_LOG_FILE": log_file,
        "LOGKIT_LOG_STREAM": None,
        "LOG_LEVEL": "INFO",
        # --- the test crawl ---
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,
        "DOWNLOAD_TIMEOUT": 1.5,
        "RETRY_TIMES": 1,
        "DNS_TIMEOUT": 5,
        "CONCURRENT_REQUESTS": 8,
        "ITEM_PIPELINES": {"tests.sites.spider.StorePipeline": 300},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--log-file", required=True)
    ap.add_argument("--service", default="shop-crawler")
    ap.add_argument("--proxy")
    ap.add_argument("--dead-proxy")
    ap.add_argument("--no-follow", action="store_true")
    a = ap.parse_args()
    process = CrawlerProcess(settings(a.log_file, a.service))
    process.crawl(SiteSpider, start_url=a.url, proxy=a.proxy, dead_proxy=a.dead_proxy,
                  follow=not a.no_follow)
    process.start()


if __name__ == "__main__":
    main()
