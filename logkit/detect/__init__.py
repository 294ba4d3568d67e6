"""Response classifiers used by the Scrapy/parser integrations.

Kept free of third-party imports so that importing it from a spider or a
downloader middleware costs nothing measurable.
"""

from logkit.detect.challenge import PREFIX_BYTES, Challenge, detect_challenge

__all__ = ["Challenge", "PREFIX_BYTES", "detect_challenge"]
