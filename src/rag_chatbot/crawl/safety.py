"""Which addresses the crawler may connect to: public ones, and those the operator allowed.

A crawl is started by a user with a URL, so without this check anyone who may add documents
could make the server read its own network: loopback services, private (RFC 1918, ULA),
link-local and CGNAT ranges, multicast, the unspecified address, and cloud metadata endpoints
(169.254.169.254, metadata.google.internal, fd00:ec2::254). Every address a host name resolves
to is checked, and ``transport.GuardedBackend`` connects to the address that was checked, so a
name that resolves differently the second time (DNS rebinding) gains nothing. IPv6 forms that
carry an IPv4 address (mapped, NAT64, 6to4) are judged by that address.

``allowed_hosts`` (setting CRAWL_ALLOWED_HOSTS) lists host names, addresses or networks that
may be reached although private: an intranet wiki, a documentation server on the same host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

SETTING = "CRAWL_ALLOWED_HOSTS"
METADATA_NAMES = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
     "instance-data.ec2.internal"}
)  # fmt: skip
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200",
              "168.63.129.16")
)  # fmt: skip
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeAddress(Exception):
    """A host the crawler must not reach; the message says why and how to allow it."""


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives ``host``, first answer first, without repeats.

    Raises ``socket.gaierror`` when the name does not resolve.
    """
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), else the address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def address_problem(address: IPAddress) -> str | None:
    """What makes an address unsafe to fetch ('a private address'), or None if it is public."""
    address = embedded_ipv4(address)
    checks = (
        (address in METADATA_ADDRESSES, "a cloud metadata address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "the unspecified address"),
        (address in CGNAT, "a shared (CGNAT) address"),
        (address.is_private, "a private address"),
        (not address.is_global, "a reserved address"),
    )
    return next((problem for unsafe, problem in checks if unsafe), None)


class AddressPolicy:
    """The crawler's rule for hosts and addresses, with the operator's exceptions."""

    def __init__(self, allowed: Iterable[str] = (), resolve: Resolver = system_resolve) -> None:
        self._names: set[str] = set()
        self._networks: list[IPNetwork] = []
        for entry in allowed:
            text = entry.strip().strip("[]").rstrip(".").lower()
            if not text:
                continue
            try:
                self._networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                self._names.add(text)
        self._resolve = resolve

    def _allowed_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self._networks) or (
            embedded_ipv4(address) != address
            and any(embedded_ipv4(address) in network for network in self._networks)
        )

    def host_problem(self, host: str) -> str | None:
        """Why ``host`` is refused before any lookup (an address literal or a metadata name)."""
        name = host.strip("[]").rstrip(".").lower()
        if name in self._names:
            return None
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            if name in METADATA_NAMES:
                return f"{name} is a cloud metadata host; add it to {SETTING} to crawl it"
            return None
        problem = None if self._allowed_address(address) else address_problem(address)
        return f"{name} is {problem}; add it to {SETTING} to crawl it" if problem else None

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for ``host``, every one of them checked.

        Raises ``UnsafeAddress`` when the host or any address it resolves to is refused (one
        bad answer is enough: which one a connection would use is not ours to choose), and
        ``socket.gaierror`` when the name does not resolve.
        """
        name = host.strip("[]").rstrip(".").lower()
        problem = self.host_problem(name)
        if problem:
            raise UnsafeAddress(problem)
        try:
            return [ipaddress.ip_address(name).compressed]
        except ValueError:
            pass
        found = await self._resolve(name, port)
        if not found:
            raise socket.gaierror(socket.EAI_NONAME, f"{name} has no address")
        if name in self._names:
            return found
        for text in found:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            problem = None if self._allowed_address(address) else address_problem(address)
            if problem:
                raise UnsafeAddress(
                    f"{name} resolves to {address.compressed}, {problem}; "
                    f"add {name} or {address.compressed} to {SETTING} to crawl it"
                )
        return found
