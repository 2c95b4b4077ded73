"""CIDR lists, built for size: a million networks become two sorted arrays of merged ranges per IP
version, searched with bisect (no per-entry objects are kept)."""

from __future__ import annotations

import ipaddress
import socket
from array import array
from bisect import bisect_right
from collections.abc import Iterable
from itertools import islice

from gateway.listitems import BadItem, BadSink, Where

_U32 = "I" if array("I").itemsize == 4 else "L"  # an unsigned 32-bit array type code
_V4_MAX = (1 << 32) - 1
_V4_LENGTHS = {str(n): n for n in range(33)}


class CidrList:
    """IPv4 and IPv6 networks, merged into sorted ranges; `contains` is a binary search."""

    def __init__(
        self,
        name: str,
        v4_starts: array[int],
        v4_ends: array[int],
        v6_starts: list[int],
        v6_ends: list[int],
        entries: int,
    ) -> None:
        self.name = name
        self.kind = "cidr"
        self._v4_starts = v4_starts
        self._v4_ends = v4_ends
        self._v6_starts = v6_starts
        self._v6_ends = v6_ends
        self.entries = entries  # networks as listed, before merging

    def __len__(self) -> int:
        return self.entries

    @property
    def ranges(self) -> int:
        """How many disjoint address ranges the networks merged into."""
        return len(self._v4_starts) + len(self._v6_starts)

    def contains(self, ip: str) -> bool:
        """True when `ip` (IPv4 or IPv6 text) is inside a listed network; a bad address is False."""
        parsed = _parse_address(ip)
        if parsed is None:
            return False
        version, value = parsed
        # ::ffff:a.b.c.d is the IPv4 address a.b.c.d
        if (
            version == 6
            and (value >> 32) == 0xFFFF
            and self._search(self._v4_starts, self._v4_ends, value & _V4_MAX)
        ):
            return True
        if version == 4:
            return self._search(self._v4_starts, self._v4_ends, value)
        return self._search(self._v6_starts, self._v6_ends, value)

    @staticmethod
    def _search(starts: array[int] | list[int], ends: array[int] | list[int], value: int) -> bool:
        i = bisect_right(starts, value) - 1
        return i >= 0 and value <= ends[i]

    def __repr__(self) -> str:
        return f"CidrList({self.name!r}, entries={self.entries}, ranges={self.ranges})"


def load_cidr(items: Iterable[tuple[str, Where]], name: str, bad: BadSink) -> CidrList:
    # Each IPv4 network is packed into one 64-bit key: start << 6 | host bits. Sorting the keys
    # sorts by start; the ranges are then merged into two parallel 32-bit arrays.
    v4_keys: array[int] = array("Q")
    v6: list[tuple[int, int]] = []
    entries = 0
    pton, af_inet, lengths = socket.inet_pton, socket.AF_INET, _V4_LENGTHS
    for item, where in items:
        # Fast path for the bulk of big lists, "a.b.c.d/n" with a clean network address;
        # anything else (errors included) goes through the full parser below.
        addr, _, length = item.partition("/")
        plen = lengths.get(length)
        if plen is not None and ":" not in addr:
            try:
                value = int.from_bytes(pton(af_inet, addr), "big")
            except OSError:
                value = -1
            host_bits = 32 - plen
            if value >= 0 and not value & ((1 << host_bits) - 1):
                entries += 1
                v4_keys.append(value << 6 | host_bits)
                continue
        try:
            version, start, host_bits = _parse_cidr(item)
        except BadItem as exc:
            bad(where, exc)
            continue
        entries += 1
        if version == 4:
            v4_keys.append(start << 6 | host_bits)
        else:
            v6.append((start, start + (1 << host_bits) - 1))
    v4_starts: array[int] = array(_U32)
    v4_ends: array[int] = array(_U32)
    cur_start = cur_end = -2
    # Sorting copies the keys into Python ints (~40 MB per million); skip it for sorted files.
    ordered = v4_keys if _ascending(v4_keys) else sorted(v4_keys)
    for key in ordered:
        start = key >> 6
        end = start + (1 << (key & 63)) - 1
        if start <= cur_end + 1:
            if end > cur_end:
                cur_end = end
            continue
        if cur_end >= 0:
            v4_starts.append(cur_start)
            v4_ends.append(cur_end)
        cur_start, cur_end = start, end
    if cur_end >= 0:
        v4_starts.append(cur_start)
        v4_ends.append(cur_end)
    del v4_keys
    v6_starts: list[int] = []
    v6_ends: list[int] = []
    for start, end in sorted(v6):
        if v6_ends and start <= v6_ends[-1] + 1:
            v6_ends[-1] = max(v6_ends[-1], end)
        else:
            v6_starts.append(start)
            v6_ends.append(end)
    return CidrList(name, v4_starts, v4_ends, v6_starts, v6_ends, entries)


def _ascending(keys: array[int]) -> bool:
    return all(a <= b for a, b in zip(keys, islice(keys, 1, None), strict=False))


def _parse_cidr(text: str) -> tuple[int, int, int]:
    """(version, network start, host bits) of "10.0.0.0/8", "2001:db8::/32" or one address."""
    addr, slash, length = text.partition("/")
    if ":" not in addr:
        try:
            value = int.from_bytes(socket.inet_pton(socket.AF_INET, addr), "big")
        except OSError:
            raise BadItem(f"{text!r} is not an IPv4 or IPv6 network") from None
        plen = _prefix_length(text, length, 32) if slash else 32
        host_bits = 32 - plen
        if value & ((1 << host_bits) - 1):
            network = value >> host_bits << host_bits
            raise BadItem(f"{text!r}: host bits set; did you mean {_v4_text(network)}/{plen}?")
        return 4, value, host_bits
    try:
        net6 = ipaddress.IPv6Network(text, strict=True)
    except ipaddress.NetmaskValueError:
        raise BadItem(f"{text!r} has an invalid prefix length (0-128 for IPv6)") from None
    except ValueError as exc:
        if "host bits set" in str(exc):
            fixed = ipaddress.IPv6Network(text, strict=False)
            raise BadItem(f"{text!r}: host bits set; did you mean {fixed}?") from None
        raise BadItem(f"{text!r} is not an IPv4 or IPv6 network") from None
    return 6, int(net6.network_address), 128 - net6.prefixlen


def _prefix_length(text: str, length: str, maximum: int) -> int:
    if not (length.isascii() and length.isdigit()) or int(length) > maximum:
        raise BadItem(f"{text!r} has an invalid prefix length (0-{maximum} for IPv4)")
    return int(length)


def _v4_text(value: int) -> str:
    return socket.inet_ntop(socket.AF_INET, value.to_bytes(4, "big"))


def _parse_address(ip: str) -> tuple[int, int] | None:
    """(version, integer) of an address, or None when it is not one."""
    if not isinstance(ip, str):
        return None
    ip = ip.strip()
    try:
        if ":" in ip:
            if "%" in ip:  # a zone index ("fe80::1%eth0") does not change which network holds it
                ip = ip.split("%", 1)[0]
            return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, ip), "big")
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, ip), "big")
    except (OSError, ValueError):
        return None
