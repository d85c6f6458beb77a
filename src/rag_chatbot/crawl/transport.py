"""An httpx transport whose connections go only to addresses the safety policy checked.

httpx resolves host names inside its connection pool, after any check the caller could make,
so a host could resolve to a public address for the check and to 127.0.0.1 for the
connection. Here the pool's network backend resolves the name itself, checks every address
(``safety.AddressPolicy``) and connects to one of those: the check and the connection use the
same answer. TLS still verifies the certificate against the host name, and the Host header
is the URL's. Environment proxies are not used (a proxy would connect for us, unchecked).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

import httpcore
import httpx

from rag_chatbot.crawl.safety import AddressPolicy


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects TCP streams to checked addresses only (``UnsafeAddress`` otherwise)."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._policy.addresses(host, port)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None  # addresses() never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("the crawler does not connect to Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _httpx_error(exc: Exception) -> httpx.TransportError:
    """httpcore's exception as the httpx class of the same name (httpx's own mapping)."""
    kind = getattr(httpx, type(exc).__name__, httpx.TransportError)
    if not (isinstance(kind, type) and issubclass(kind, httpx.TransportError)):
        kind = httpx.TransportError
    error: httpx.TransportError = kind(str(exc) or type(exc).__name__)
    return error


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes], response: httpcore.Response) -> None:
        self._stream = stream
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except httpcore.TimeoutException as exc:
            raise _httpx_error(exc) from exc
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise _httpx_error(exc) from exc

    async def aclose(self) -> None:
        await self._response.aclose()


class PinnedTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over ``GuardedBackend``; httpcore errors become httpx's of the same name."""

    def __init__(self, policy: AddressPolicy, connections: int) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = await self._pool.handle_async_request(core)
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise _httpx_error(exc) from exc
        except (httpcore.UnsupportedProtocol, httpcore.ProxyError) as exc:
            raise _httpx_error(exc) from exc
        assert isinstance(response.stream, AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream, response),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
