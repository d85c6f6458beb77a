"""HTTP GETs for the crawler: polite per host, retried, redirects checked hop by hop, bodies capped.

Each host has a ``HostLimiter``: at most ``concurrency`` requests at once, started at most
``rate`` a second; a Retry-After pauses the whole host. A redirect is followed by hand so the
caller can refuse each target (another host, out of scope, disallowed) before it is fetched;
the transport checks every address (``transport``). A body is read only when the caller
accepts its headers, and abandoned past ``max_bytes`` (Content-Length first, then counted as it
streams, after decompression).
"""

from __future__ import annotations

import asyncio
import email.utils
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from rag_chatbot.crawl.model import MIB, CrawlOptions, one_line
from rag_chatbot.crawl.pacing import HostLimiter, retry_after
from rag_chatbot.crawl.safety import AddressPolicy, UnsafeAddress
from rag_chatbot.crawl.transport import PinnedTransport
from rag_chatbot.crawl.urls import normalise

REDIRECTS = frozenset({301, 302, 303, 307, 308})
RETRIED = frozenset({408, 425, 429, 500, 502, 503, 504})
BACKOFF_CAP = 30.0
DRAINED = 64 * 1024  # error bodies up to this size are read to keep the connection


class FetchError(Exception):
    """A URL that gave no usable response; ``status`` is the page status to report.

    ``cause``: "network" (no answer: connection, timeout, refused address), "http" (an error
    status after the retries), "redirect" (loop, too many, not a web URL), "refused" (the
    caller's check said no), "size" (over the byte limit).
    """

    def __init__(self, status: str, reason: str, cause: str = "refused") -> None:
        reason = one_line(reason)
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.cause = cause


class _Retry(Exception):
    def __init__(self, reason: str, cause: str = "network", retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.cause = cause
        self.retry_after = retry_after


HopCheck = Callable[[str, str], FetchError | None]  # (from URL, to URL) -> refusal
BodyCheck = Callable[[str, httpx.Headers], FetchError | None]  # (URL, headers) -> refusal


def _no_validators(url: str) -> Mapping[str, str]:
    return {}


def _any_body(url: str, headers: httpx.Headers) -> FetchError | None:
    return None


@dataclass
class Response:
    """The last answer of a redirect chain; ``body`` only for a 200 the caller accepted."""

    url: str
    status: int
    headers: httpx.Headers
    body: bytes | None
    started: datetime  # when the request left, by our clock
    phrase: str = ""

    @property
    def describe(self) -> str:
        """'HTTP 503 Service Unavailable', for reasons."""
        return f"HTTP {self.status} {self.phrase or _phrase(self.status)}".strip()

    @property
    def current_at(self) -> datetime:
        """When the body was current: the server's Date (the clock of its sitemap's lastmod)."""
        date = self.headers.get("date")
        if date:
            try:
                parsed = email.utils.parsedate_to_datetime(date)
            except (TypeError, ValueError):
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
        return self.started


def _phrase(status: int) -> str:
    return httpx.codes.get_reason_phrase(status)


def size(count: float) -> str:
    """A byte count for people: '32 MiB', '812 KiB'."""
    if count >= MIB:
        return f"{count / MIB:.0f} MiB"
    return f"{count / 1024:.0f} KiB" if count >= 1024 else f"{count:.0f} bytes"


class Fetcher:
    """GETs through one httpx client; counts requests and body bytes. Use as ``async with``."""

    def __init__(self, options: CrawlOptions, policy: AddressPolicy) -> None:
        self._options = options
        self._client = httpx.AsyncClient(
            transport=PinnedTransport(policy, connections=options.concurrency * 2),
            headers={"User-Agent": options.user_agent},
            timeout=httpx.Timeout(options.timeout),
            follow_redirects=False,
            trust_env=False,
        )
        self._limiters: dict[str, HostLimiter] = {}
        self.requests = 0
        self.bytes = 0

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    def limiter(self, url: str) -> HostLimiter:
        host = httpx.URL(url).netloc.decode("ascii")
        if host not in self._limiters:
            interval = 1.0 / self._options.rate
            self._limiters[host] = HostLimiter(self._options.concurrency, interval)
        return self._limiters[host]

    async def get(
        self,
        url: str,
        *,
        hop_check: HopCheck,
        body_check: BodyCheck = _any_body,
        validators: Callable[[str], Mapping[str, str]] = _no_validators,
        max_bytes: int | None = None,
        truncate: bool = False,
        max_redirects: int | None = None,
    ) -> Response:
        """GET ``url``, following redirects that ``hop_check`` lets through.

        Raises ``FetchError``: a loop, too many redirects, a refused hop, a refused address,
        a network error or a 5xx/429 after the retries, a body over ``max_bytes`` (unless
        ``truncate``: then the first ``max_bytes`` are kept).
        """
        hops = self._options.max_redirects if max_redirects is None else max_redirects
        chain = [url]
        while True:
            current = chain[-1]
            response = await self._attempts(
                current, validators(current), body_check, max_bytes, truncate
            )
            location = response.headers.get("location")
            if response.status not in REDIRECTS or not location:
                return response
            target = normalise(location, base=current)
            if target is None:
                raise FetchError(
                    "failed", f"redirects to {location[:200]!r}, not a web URL", "redirect"
                )
            if target in chain:
                raise FetchError(
                    "failed", "redirect loop: " + " -> ".join([*chain, target]), "redirect"
                )
            if len(chain) > hops:
                raise FetchError(
                    "failed", f"more than {hops} redirects (last to {target})", "redirect"
                )
            refusal = hop_check(current, target)
            if refusal is not None:
                raise refusal
            chain.append(target)

    async def _attempts(
        self,
        url: str,
        headers: Mapping[str, str],
        body_check: BodyCheck,
        max_bytes: int | None,
        truncate: bool,
    ) -> Response:
        retries = self._options.retries
        for attempt in range(retries + 1):
            try:
                return await self._once(url, headers, body_check, max_bytes, truncate)
            except _Retry as exc:
                if attempt == retries:
                    tries = f" ({retries + 1} attempts)" if retries else ""
                    raise FetchError("failed", exc.reason + tries, exc.cause) from None
                backoff = min(self._options.backoff * 2**attempt, BACKOFF_CAP)
                delay = backoff * (1 + random.random() / 4)
                if exc.retry_after is not None:
                    wait = min(exc.retry_after, self._options.retry_after_cap)
                    self.limiter(url).pause(wait)
                    delay = max(delay, wait)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _once(
        self,
        url: str,
        headers: Mapping[str, str],
        body_check: BodyCheck,
        max_bytes: int | None,
        truncate: bool,
    ) -> Response:
        timeout = self._options.timeout
        async with self.limiter(url):
            try:
                async with asyncio.timeout(timeout):
                    return await self._exchange(url, headers, body_check, max_bytes, truncate)
            except (TimeoutError, httpx.TimeoutException):
                raise _Retry(f"timed out after {timeout:g} s") from None
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
                raise _Retry(f"connection broken: {exc}") from None
            except UnsafeAddress as exc:
                raise FetchError("failed", str(exc), "network") from None
            except httpx.ConnectError as exc:
                host = httpx.URL(url).host
                raise FetchError("failed", f"cannot connect to {host}: {exc}", "network") from None
            except httpx.HTTPError as exc:
                raise FetchError("failed", f"{type(exc).__name__}: {exc}", "network") from None

    async def _exchange(
        self,
        url: str,
        headers: Mapping[str, str],
        body_check: BodyCheck,
        max_bytes: int | None,
        truncate: bool,
    ) -> Response:
        started = datetime.now(UTC)
        request = self._client.build_request("GET", url, headers=dict(headers))
        reply = await self._client.send(request, stream=True)
        self.requests += 1
        try:
            result = Response(
                url, reply.status_code, reply.headers, None, started, reply.reason_phrase
            )
            if reply.status_code != 200:
                await self._drain(reply)
            if reply.status_code in RETRIED:
                raise _Retry(result.describe, "http", retry_after(reply.headers))
            if reply.status_code != 200:
                return result
            refusal = body_check(url, reply.headers)
            if refusal is not None:
                raise refusal
            limit = self._options.max_bytes if max_bytes is None else max_bytes
            result.body = await self._read(reply, limit, truncate)
            return result
        finally:
            await reply.aclose()

    async def _drain(self, reply: httpx.Response) -> None:
        """Read a small error or redirect body, so its connection serves the next request."""
        declared = reply.headers.get("content-length", "")
        if declared.isdigit() and int(declared) <= DRAINED:
            self.bytes += len(await reply.aread())

    async def _read(self, reply: httpx.Response, limit: int, truncate: bool) -> bytes:
        declared = reply.headers.get("content-length", "")
        if not truncate and declared.isdigit() and int(declared) > limit:
            raise FetchError(
                "skipped",
                f"larger than {size(limit)} (Content-Length {size(int(declared))}); not downloaded",
                "size",
            )
        chunks: list[bytes] = []
        total = 0
        async for chunk in reply.aiter_bytes():
            total += len(chunk)
            self.bytes += len(chunk)
            if total > limit:
                if truncate:
                    chunks.append(chunk[: len(chunk) - (total - limit)])
                    break
                raise FetchError(
                    "skipped", f"larger than {size(limit)}; download abandoned", "size"
                )
            chunks.append(chunk)
        return b"".join(chunks)
