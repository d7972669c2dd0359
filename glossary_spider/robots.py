"""Which robots.txt group is ours: RFC 9309 (2.2.1) matches a group by the crawler's whole product token.

Protego, Scrapy's parser, takes a group as a crawler's where the group's name occurs in the crawler's at a
word start: a group for ``gloss`` or ``glossary`` would bind ``glossary_spider``, and one written
``glossary_spider/1.0`` (a product and its version, as sites copy them from a User-Agent header) would
not. :class:`ProductTokenRobotParser` reads each ``User-agent`` line as RFC 9309 and Google's parser do (the
name up to its first character that cannot be in a product token, compared without case) before Protego
reads the rules: a line naming our token names exactly it, one naming any other crawler a name no crawler
has, ``*`` stays ``*``. Everything else of the file (the groups' bounds, their rules, Crawl-delay) is
Protego's to read.
"""

from __future__ import annotations

import re
from typing import Any

from protego import Protego
from scrapy.robotstxt import ProtegoRobotParser, decode_robotstxt

# The keys Protego reads as a User-agent line.
_USER_AGENT_KEYS = {"user-agent", "useragent", "user agent"}
_PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]*")
_ANOTHER_CRAWLER = "~another-crawler"  # matches no product token: "~" cannot be in one


def product_token(user_agent: str) -> str:
    """The product token of ``user_agent`` (``glossary_spider/0.9 (+https://…)`` → ``glossary_spider``),
    lower-cased; ``*`` where it has none."""
    return _PRODUCT_TOKEN.match(user_agent.strip()).group().lower() or "*"


def _named_agent(line: str) -> str | None:
    """The crawler a User-agent line names (as Protego reads one: ``User-agent: x``, ``User agent x``, any
    case, a comment after ``#`` left out); None for any other line."""
    line = line.split("#", 1)[0].strip()
    key, colon, value = line.partition(":")
    if colon and key.strip().lower() in _USER_AGENT_KEYS:
        return value.strip()
    words = line.split()
    for size in (1, 2):
        if " ".join(words[:size]).lower() in _USER_AGENT_KEYS:
            return " ".join(words[size:])
    return None


def for_token(robots: str, token: str) -> str:
    """``robots`` with each User-agent line naming ``token`` (as RFC 9309 matches it), ``*``, or another
    crawler; every other line as it was."""
    lines = robots.splitlines(keepends=True)
    for i, line in enumerate(lines):
        name = _named_agent(line)
        if not name or name == "*":
            continue
        ours = token != "*" and product_token(name) == token
        lines[i] = f"User-agent: {token if ours else _ANOTHER_CRAWLER}\n"
    return "".join(lines)


def robots_agent(settings: Any) -> str:
    """The user agent whose rules the crawler obeys: ``ROBOTSTXT_USER_AGENT``, or ``USER_AGENT`` where that is not
    set or ``USER_AGENT`` was given above it (``-s USER_AGENT=MyBot/2.0``: the project's own token would have had
    a bot that sends MyBot obey the rules for glossary_spider)."""
    agent = settings.get("ROBOTSTXT_USER_AGENT")
    if not agent or (settings.getpriority("USER_AGENT") or 0) > (settings.getpriority("ROBOTSTXT_USER_AGENT") or 0):
        agent = settings.get("USER_AGENT")
    return agent or ""


class ProductTokenRobotParser(ProtegoRobotParser):
    """Protego, given the group of the crawler's product token (of :func:`robots_agent`) as RFC 9309 finds it, or
    the ``*`` group where none is ours. The crawler asks with its own agent, in which Protego finds that token."""

    def __init__(self, robotstxt_body: bytes, spider: Any, token: str = "*"):
        self.spider = spider
        self.rp = Protego.parse(for_token(decode_robotstxt(robotstxt_body, spider), token))

    @classmethod
    def from_crawler(cls, crawler: Any, robotstxt_body: bytes) -> ProductTokenRobotParser:
        return cls(robotstxt_body, crawler.spider, product_token(robots_agent(crawler.settings)))
