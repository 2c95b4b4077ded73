"""Named lists that rules refer to with `in_list: <name>`.

Four shapes, six kinds:

    kind      class       question it answers
    cidr      CidrList    is this IPv4/IPv6 address inside one of the networks?
    prefix    PrefixList  which listed phone prefix is the longest prefix of this number?
    country   ValueList   is this ISO 3166-1 alpha-2 code listed?
    asn       ValueList   is this autonomous system number listed? ("AS1234" or 1234)
    string    ValueList   is this exact string listed?
    regex     RegexList   which listed pattern (first in file order) matches this text?

A list file has one item per line; blank lines and `#` comments (a whole line, or `#` after
whitespace at the end of an item) are skipped. Loading validates every item and raises one
ConfigError naming each bad item's `file:line:col`.

CIDR lists are built for size: a million networks become two sorted arrays of merged ranges per IP
version and are searched with bisect (no per-entry objects are kept). Loading is a pure function,
so a big file can load in a worker thread (`load_list_file_async`) without stalling the event loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import multiprocessing
import re
import socket
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Literal

from gateway.errors import ConfigError, InputError, Location, Problem

ListKind = Literal["cidr", "prefix", "country", "asn", "string", "regex"]
KINDS: tuple[str, ...] = ("cidr", "prefix", "country", "asn", "string", "regex")

# At most this many problems are reported for one list (a wrong `kind:` on a million-line file
# would otherwise produce a million-line error); the last problem says how many were left out.
MAX_PROBLEMS = 1000

# ISO 3166-1 alpha-2, plus XK (Kosovo, user-assigned but used by MaxMind and phone metadata).
_ISO_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
    EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
    HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
    LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
    NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK
"""
ISO_COUNTRIES: frozenset[str] = frozenset(_ISO_CODES.split())
_COUNTRY_HINTS = {"UK": "GB", "EL": "GR"}
# YAML 1.1 reads an unquoted NO (Norway) as false; a country item "False" is almost surely that.
_YAML_NO = "YAML reads an unquoted NO as false: write 'NO' in quotes"

_U32 = "I" if array("I").itemsize == 4 else "L"  # an unsigned 32-bit array type code
_V4_MAX = (1 << 32) - 1
_V4_LENGTHS = {str(n): n for n in range(33)}
_ASN_MAX = (1 << 32) - 1

# What list items look like while loading: the text and where it was written. Locations are
# built lazily (a (file, line, col) tuple) so a million-line file does not create a million objects.
_Where = Location | tuple[str, int, int]


class _BadItem(InputError):
    """One list item is invalid; `offset` is the 0-based column inside the item, when known."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


_BadSink = Callable[[_Where, _BadItem], None]


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


class PrefixList:
    """Phone-number prefixes (digits); `match` returns the longest listed prefix of a number."""

    def __init__(self, name: str, prefixes: Iterable[str]) -> None:
        self.name = name
        self.kind = "prefix"
        by_length: dict[int, set[str]] = {}
        for prefix in prefixes:
            by_length.setdefault(len(prefix), set()).add(prefix)
        self._by_length = {n: frozenset(s) for n, s in by_length.items()}
        self._lengths = sorted(by_length, reverse=True)

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_length.values())

    def match(self, digits_or_e164: str) -> str | None:
        """The longest listed prefix of a number ("+447700900123" or "447700900123"), or None."""
        digits = digits_or_e164.lstrip("+")
        size = len(digits)
        for length in self._lengths:
            if length <= size:
                head = digits[:length]
                if head in self._by_length[length]:
                    return head
        return None

    def __repr__(self) -> str:
        return f"PrefixList({self.name!r}, entries={len(self)})"


class ValueList:
    """Exact values: country codes (upper case), AS numbers (ints) or plain strings."""

    def __init__(self, name: str, kind: str, values: Iterable[str | int]) -> None:
        self.name = name
        self.kind = kind
        self._values: frozenset[str | int] = frozenset(values)

    def __len__(self) -> int:
        return len(self._values)

    def contains(self, value: str | int) -> bool:
        """True when `value` is listed. Countries ignore case; ASNs accept 1234 or "AS1234"."""
        if self.kind == "country":
            return isinstance(value, str) and value.strip().upper() in self._values
        if self.kind == "asn":
            if isinstance(value, bool):
                return False
            if isinstance(value, int):
                return value in self._values
            try:
                return _parse_asn(value) in self._values
            except _BadItem:
                return False
        return str(value) in self._values

    def __repr__(self) -> str:
        return f"ValueList({self.name!r}, kind={self.kind!r}, entries={len(self)})"


class RegexList:
    """Regular expressions (Python `re` syntax, searched anywhere in the text), in file order."""

    def __init__(self, name: str, patterns: list[re.Pattern[str]]) -> None:
        self.name = name
        self.kind = "regex"
        self._patterns = patterns

    def __len__(self) -> int:
        return len(self._patterns)

    def search(self, text: str) -> str | None:
        """The first listed pattern (its source text) found somewhere in `text`, else None."""
        for pattern in self._patterns:
            if pattern.search(text):
                return pattern.pattern
        return None

    def __repr__(self) -> str:
        return f"RegexList({self.name!r}, entries={len(self)})"


NamedList = CidrList | PrefixList | ValueList | RegexList


# --- loading -----------------------------------------------------------------------------------


def load_list(kind: str, items: list[tuple[str, Location]], name: str) -> NamedList:
    """Build a list of `kind` from (item, location) pairs; ConfigError names every bad item."""
    return _load(kind, items, name)


def read_list_file(path: Path) -> list[tuple[str, Location]]:
    """Read a list file: one item per line with its file:line:col; blanks, `#` comments skipped."""
    return [(item, Location(file, line, col)) for item, (file, line, col) in _iter_file(path)]


def load_list_file(kind: str, path: Path, name: str) -> NamedList:
    """Read and build a list file in one pass, without keeping per-line objects (for big lists)."""
    return _load(kind, _iter_file(path), name)


# Files this big are parsed in a child process. Parsing a million lines in a thread holds the
# GIL long enough to stall the event loop for about a second (measured: ~950 ms); in a child
# process the loop only waits for the finished list to be unpickled (~20 ms): two arrays.
BIG_LIST_BYTES = 1 << 20


def load_list_file_isolated(kind: str, path: Path, name: str) -> NamedList:
    """`load_list_file`, in a child process when the file is big. Blocking: call from a thread."""
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # load_list_file reports the missing file with its location
    if size < BIG_LIST_BYTES:
        return load_list_file(kind, path, name)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(load_list_file, kind, path, name).result()


async def load_list_file_async(kind: str, path: Path, name: str) -> NamedList:
    """`load_list_file_isolated` from async code: the event loop never stalls on a big list."""
    return await asyncio.to_thread(load_list_file_isolated, kind, path, name)


def _iter_file(path: Path) -> Iterator[tuple[str, tuple[str, int, int]]]:
    file = str(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline=None)
    except OSError as exc:
        raise ConfigError(
            [Problem(Location(file), f"cannot read list file: {exc.strerror}")]
        ) from exc
    with handle:
        lineno = 0
        try:
            for lineno, raw in enumerate(handle, start=1):
                if "#" in raw or raw[:1].isspace():
                    item, col = _strip_line(raw)
                else:  # the common case: an item alone at the start of its line
                    item, col = raw.rstrip(), 1
                if item:
                    yield item, (file, lineno, col)
        except UnicodeDecodeError as exc:
            raise ConfigError(
                [Problem(Location(file, lineno + 1), f"not UTF-8 text: {exc.reason}")]
            ) from exc


def _strip_line(raw: str) -> tuple[str, int]:
    """The item on one line (comments and surrounding blanks removed) and its 1-based column."""
    text = raw.rstrip("\r\n")
    stripped = text.lstrip()
    if not stripped or stripped[0] == "#":
        return "", 0
    col = len(text) - len(stripped) + 1
    hash_at = stripped.find("#")
    while hash_at > 0:  # a trailing comment is `#` preceded by whitespace
        if stripped[hash_at - 1] in " \t":
            stripped = stripped[:hash_at]
            break
        hash_at = stripped.find("#", hash_at + 1)
    return stripped.rstrip(), col


def _load(kind: str, items: Iterable[tuple[str, _Where]], name: str) -> NamedList:
    problems: list[Problem] = []
    dropped = 0

    def bad(where: _Where, exc: _BadItem) -> None:
        nonlocal dropped
        if len(problems) >= MAX_PROBLEMS:
            dropped += 1
            return
        loc = where if isinstance(where, Location) else Location(*where)
        if exc.offset and loc.col:
            loc = Location(loc.file, loc.line, loc.col + exc.offset)
        problems.append(Problem(loc, f"list {name!r} ({kind}): {exc}"))

    result: NamedList
    if kind == "cidr":
        result = _load_cidr(items, name, bad)
    elif kind == "prefix":
        prefixes: list[str] = []
        for item, where in items:
            try:
                prefixes.append(_parse_prefix(item))
            except _BadItem as exc:
                bad(where, exc)
        result = PrefixList(name, prefixes)
    elif kind in ("country", "asn", "string"):
        parsers: dict[str, Callable[[str], str | int]] = {
            "country": _parse_country,
            "asn": _parse_asn,
            "string": _parse_string,
        }
        parse = parsers[kind]
        values: list[str | int] = []
        for item, where in items:
            try:
                values.append(parse(item))
            except _BadItem as exc:
                bad(where, exc)
        result = ValueList(name, kind, values)
    elif kind == "regex":
        patterns: list[re.Pattern[str]] = []
        for item, where in items:
            try:
                patterns.append(_parse_regex(item))
            except _BadItem as exc:
                bad(where, exc)
        result = RegexList(name, patterns)
    else:
        raise ConfigError(
            [
                Problem(
                    Location(f"list {name!r}"), f"unknown kind {kind!r}; one of {', '.join(KINDS)}"
                )
            ]
        )
    if dropped:
        last = problems[-1].location
        problems.append(
            Problem(Location(last.file), f"... and {dropped} more bad items in {name!r}")
        )
    if problems:
        raise ConfigError(problems)
    return result


def _load_cidr(items: Iterable[tuple[str, _Where]], name: str, bad: _BadSink) -> CidrList:
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
        except _BadItem as exc:
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
            raise _BadItem(f"{text!r} is not an IPv4 or IPv6 network") from None
        plen = _prefix_length(text, length, 32) if slash else 32
        host_bits = 32 - plen
        if value & ((1 << host_bits) - 1):
            network = value >> host_bits << host_bits
            raise _BadItem(f"{text!r}: host bits set; did you mean {_v4_text(network)}/{plen}?")
        return 4, value, host_bits
    try:
        net6 = ipaddress.IPv6Network(text, strict=True)
    except ipaddress.NetmaskValueError:
        raise _BadItem(f"{text!r} has an invalid prefix length (0-128 for IPv6)") from None
    except ValueError as exc:
        if "host bits set" in str(exc):
            fixed = ipaddress.IPv6Network(text, strict=False)
            raise _BadItem(f"{text!r}: host bits set; did you mean {fixed}?") from None
        raise _BadItem(f"{text!r} is not an IPv4 or IPv6 network") from None
    return 6, int(net6.network_address), 128 - net6.prefixlen


def _prefix_length(text: str, length: str, maximum: int) -> int:
    if not (length.isascii() and length.isdigit()) or int(length) > maximum:
        raise _BadItem(f"{text!r} has an invalid prefix length (0-{maximum} for IPv4)")
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


def _parse_prefix(text: str) -> str:
    digits = text[1:] if text.startswith("+") else text
    if not (digits.isascii() and digits.isdigit()):
        raise _BadItem(f"{text!r} is not a phone prefix (digits, optionally after '+')")
    if len(digits) > 15:
        raise _BadItem(f"{text!r} is longer than any phone number (15 digits)")
    return digits


def _parse_country(text: str) -> str:
    code = text.upper()
    if code not in ISO_COUNTRIES:
        hint = _COUNTRY_HINTS.get(code)
        extra = f"; did you mean {hint}?" if hint else ""
        if code == "FALSE":
            extra = f" ({_YAML_NO})"
        raise _BadItem(f"{text!r} is not an ISO 3166-1 alpha-2 country code{extra}")
    return code


def _parse_asn(text: str) -> int:
    digits = text[2:] if text[:2] in ("AS", "as", "As") else text
    if not (digits.isascii() and digits.isdigit()) or int(digits) > _ASN_MAX:
        raise _BadItem(f"{text!r} is not an AS number (1234 or AS1234)")
    return int(digits)


def _parse_string(text: str) -> str:
    return text


def _parse_regex(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise _BadItem(f"invalid regular expression {text!r}: {exc.msg}", exc.pos or 0) from None
