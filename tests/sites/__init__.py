"""A small site served on 127.0.0.1 for the crawl tests, its spider, and a crawl entry point."""
