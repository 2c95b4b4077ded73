"""A million-network CIDR list loads and answers correctly (timing: bench/lists_bench.py)."""

from __future__ import annotations

import random

import pytest

from gateway.lists import CidrList, load_list_file

COUNT = 1_000_000
STRIDE = 4099  # odd, so i -> i * STRIDE mod 2**24 visits distinct /24 networks
INVERSE = pow(STRIDE, -1, 1 << 24)
V6_COUNT = 1000


def listed_v4(address: int) -> bool:
    """Whether the generated file lists the /24 holding `address`."""
    return ((address >> 8) * INVERSE) % (1 << 24) < COUNT


@pytest.fixture(scope="module")
def big_list(tmp_path_factory: pytest.TempPathFactory) -> CidrList:
    """1,000,000 IPv4 /24 networks in scattered order plus 1,000 IPv6 /48s, from a real file."""
    path = tmp_path_factory.mktemp("lists") / "million.txt"
    with path.open("w") as out:
        out.write("# generated: a million /24 networks\n")
        out.writelines(
            f"{n >> 16}.{(n >> 8) & 255}.{n & 255}.0/24\n"
            for n in ((i * STRIDE) % (1 << 24) for i in range(COUNT))
        )
        out.writelines(f"2001:db8:{i:x}::/48\n" for i in range(V6_COUNT))
    cidrs = load_list_file("cidr", path, "million")
    assert isinstance(cidrs, CidrList)
    return cidrs


def test_every_network_is_counted(big_list: CidrList) -> None:
    """The list holds every generated network."""
    assert len(big_list) == COUNT + V6_COUNT


def test_random_ipv4_addresses_are_answered_correctly(big_list: CidrList) -> None:
    """For 20,000 random addresses, contains() agrees with how the file was generated."""
    rng = random.Random(20261122)
    for _ in range(20_000):
        address = rng.getrandbits(32)
        text = ".".join(str((address >> s) & 255) for s in (24, 16, 8, 0))
        assert big_list.contains(text) is listed_v4(address), text


def test_network_edges_are_inside_and_neighbours_outside(big_list: CidrList) -> None:
    """The first and last address of a listed /24 are in; the next unlisted /24 is out."""
    for i in (0, 1, 12_345, COUNT - 1):
        net = (i * STRIDE) % (1 << 24)
        first = f"{net >> 16}.{(net >> 8) & 255}.{net & 255}.0"
        last = f"{net >> 16}.{(net >> 8) & 255}.{net & 255}.255"
        assert big_list.contains(first)
        assert big_list.contains(last)
    unlisted = next(n for n in range(1 << 24) if not listed_v4(n << 8))
    assert not big_list.contains(f"{unlisted >> 16}.{(unlisted >> 8) & 255}.{unlisted & 255}.1")


def test_ipv6_networks_in_the_big_list(big_list: CidrList) -> None:
    """IPv6 networks after a million IPv4 ones are matched too."""
    assert big_list.contains("2001:db8:3e7::1")  # 999 = 0x3e7, the last listed /48
    assert not big_list.contains("2001:db8:3e8::1")
