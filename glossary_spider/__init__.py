"""glossary_spider: crawl the term.greeks.live glossary into a SQLite archive."""

__version__ = "0.1.0"
