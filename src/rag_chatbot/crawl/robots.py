"""robots.txt, read as RFC 9309 says, with protego.

protego rather than ``urllib.robotparser``: the standard library's parser applies the first
matching rule instead of the longest (so ``Allow: /docs/public`` after ``Disallow: /docs`` is
ignored) and knows neither ``*`` nor ``$`` in paths, which many sites use. protego implements
the RFC's matching, the product-token match of user agents, ``Crawl-delay`` and ``Sitemap:``.

What the answer to /robots.txt means (RFC 9309 section 2.3.1): 2xx, the rules; 4xx, no rules;
5xx or an unreachable server, disallow everything (the crawl cannot start).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protego import Protego

from rag_chatbot.crawl.fetch import Fetcher, FetchError

MAX_ROBOTS_BYTES = 512 * 1024  # the RFC asks parsers to read at least 500 KiB
MAX_ROBOTS_REDIRECTS = 5


@dataclass
class RobotsRules:
    """The rules that apply to our user agent; ``refusal`` set when nothing may be fetched."""

    agent: str
    parser: Protego | None = None
    refusal: str = ""
    sitemaps: list[str] = field(default_factory=list)

    def allows(self, url: str) -> bool:
        if self.refusal:
            return False
        return self.parser is None or self.parser.can_fetch(url, self.agent)

    @property
    def delay(self) -> float | None:
        """The Crawl-delay for our agent, in seconds, if any."""
        return None if self.parser is None else self.parser.crawl_delay(self.agent)


def parse_robots(text: str, agent: str) -> RobotsRules:
    parser = Protego.parse(text)
    return RobotsRules(agent, parser, sitemaps=list(parser.sitemaps))


async def load_robots(fetcher: Fetcher, origin: str, agent: str) -> RobotsRules:
    """The rules of ``origin`` ('https://example.org') for ``agent``.

    Raises ``FetchError`` when the server cannot be reached at all.
    """
    url = f"{origin}/robots.txt"
    try:
        response = await fetcher.get(
            url,
            hop_check=lambda source, target: None,
            max_bytes=MAX_ROBOTS_BYTES,
            truncate=True,
            max_redirects=MAX_ROBOTS_REDIRECTS,
        )
    except FetchError as exc:
        if exc.cause == "http":
            return RobotsRules(agent, refusal=f"{url} answered {exc.reason}; try again later")
        if exc.cause == "redirect":  # the RFC: as if there were no robots.txt
            return RobotsRules(agent)
        raise
    if response.body is not None:
        return parse_robots(response.body.decode("utf-8", errors="replace"), agent)
    if 400 <= response.status < 500:
        return RobotsRules(agent)
    return RobotsRules(agent, refusal=f"{url} answered {response.describe}; try again later")
