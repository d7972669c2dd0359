"""Pure extraction: a page's bytes and URL in, a plain record out. No I/O."""

from glossary_spider.extraction.page import EXTRACTOR_VERSION, Extraction, content_hash, extract_page

__all__ = ["EXTRACTOR_VERSION", "Extraction", "content_hash", "extract_page"]
