"""The addresses a crawl never reaches unless the operator allows them."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from rag_chatbot.crawl.safety import AddressPolicy, UnsafeAddress, address_problem


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.1", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),  # ULA
        ("169.254.10.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.64.0.1", "a shared (CGNAT) address"),
        ("100.127.255.254", "a shared (CGNAT) address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "the unspecified address"),
        ("::", "the unspecified address"),
        ("::ffff:10.0.0.1", "a private address"),  # IPv4-mapped
        ("64:ff9b::a00:1", "a private address"),  # NAT64 of 10.0.0.1
        ("2002:a00:1::1", "a private address"),  # 6to4 of 10.0.0.1
        ("192.0.2.1", "a private address"),  # documentation range
        ("240.0.0.1", "a private address"),  # reserved
        ("8.8.8.8", None),
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_address_problems(address: str, problem: str | None) -> None:
    assert address_problem(ipaddress.ip_address(address)) == problem


def test_literal_hosts_and_metadata_names_are_refused_before_any_lookup() -> None:
    policy = AddressPolicy()
    problem = policy.host_problem("127.0.0.1")
    assert problem == ("127.0.0.1 is a loopback address; add it to CRAWL_ALLOWED_HOSTS to crawl it")
    assert "cloud metadata" in (policy.host_problem("metadata.google.internal") or "")
    assert "cloud metadata" in (policy.host_problem("169.254.169.254") or "")
    assert "private" in (policy.host_problem("[fd00::1]") or "")
    assert policy.host_problem("8.8.8.8") is None
    assert policy.host_problem("docs.example.org") is None


def test_allowed_hosts_take_addresses_networks_and_names() -> None:
    policy = AddressPolicy(["127.0.0.1", "10.0.0.0/8", "[fd00::1]", "Wiki.Intranet."])
    assert policy.host_problem("127.0.0.1") is None
    assert policy.host_problem("10.20.30.40") is None
    assert policy.host_problem("fd00::1") is None
    assert policy.host_problem("::ffff:10.1.2.3") is None  # the mapped form of an allowed one
    assert policy.host_problem("192.168.0.1") is not None
    assert policy.host_problem("127.0.0.2") is not None


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


def test_every_address_a_name_resolves_to_is_checked() -> None:
    # A stand-in for DNS (no resolver but the system's runs here): one private answer among
    # public ones is enough to refuse the host.
    table = {"mixed.test": ["93.184.216.34", "10.0.0.7"], "public.test": ["93.184.216.34"]}
    policy = AddressPolicy(resolve=_resolver(table))
    with pytest.raises(UnsafeAddress) as refused:
        asyncio.run(policy.addresses("mixed.test", 80))
    assert str(refused.value) == (
        "mixed.test resolves to 10.0.0.7, a private address; "
        "add mixed.test or 10.0.0.7 to CRAWL_ALLOWED_HOSTS to crawl it"
    )
    assert asyncio.run(policy.addresses("public.test", 80)) == ["93.184.216.34"]
    allowed = AddressPolicy(["10.0.0.0/24"], resolve=_resolver(table))
    assert asyncio.run(allowed.addresses("mixed.test", 80)) == ["93.184.216.34", "10.0.0.7"]
    by_name = AddressPolicy(["mixed.test"], resolve=_resolver(table))
    assert asyncio.run(by_name.addresses("mixed.test", 80)) == ["93.184.216.34", "10.0.0.7"]


def test_the_system_resolver_is_checked_too() -> None:
    # localhost is resolved for real (the hosts file) and refused for what it resolves to.
    with pytest.raises(
        UnsafeAddress, match=r"localhost resolves to (127\.0\.0\.1|::1), a loopback"
    ):
        asyncio.run(AddressPolicy().addresses("localhost", 80))
    allowed = AddressPolicy(["127.0.0.0/8", "::1"])
    assert "127.0.0.1" in asyncio.run(allowed.addresses("localhost", 80))
