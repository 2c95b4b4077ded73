"""Named lists that rules refer to with `list: <name>`.

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

CIDR lists are built for size (gateway/cidrs.py). Loading is a pure function, so a big file can
load in a worker thread (`load_list_file_async`) without stalling the event loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Literal, TypeVar, get_args

from gateway.cidrs import CidrList, load_cidr
from gateway.countries import NotACountry, country_code
from gateway.errors import ConfigError, Location, Problem
from gateway.listitems import BadItem, BadSink, Where
from gateway.regexes import UnsafeRegex, capped, compile_regex

__all__ = [
    "BIG_LIST_BYTES",
    "KINDS",
    "CidrList",
    "ListKind",
    "NamedList",
    "PrefixList",
    "RegexList",
    "ValueList",
    "load_list",
    "load_list_file",
    "load_list_file_async",
    "load_list_file_isolated",
    "read_list_file",
]

T = TypeVar("T")

ListKind = Literal["cidr", "prefix", "country", "asn", "string", "regex"]
KINDS: tuple[ListKind, ...] = get_args(ListKind)

# At most this many problems are reported for one list (a wrong `kind:` on a million-line file
# would otherwise produce a million-line error); the last problem says how many were left out.
MAX_PROBLEMS = 1000

_ASN_MAX = (1 << 32) - 1


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

    def contains(self, value: object) -> bool:
        """True when `value` is listed. Countries ignore case; ASNs accept 1234 or "AS1234"."""
        if self.kind == "country":
            return isinstance(value, str) and value.strip().upper() in self._values
        if self.kind == "asn":
            if isinstance(value, bool):
                return False
            if isinstance(value, int):
                return value in self._values
            try:
                return isinstance(value, str) and _parse_asn(value) in self._values
            except BadItem:
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
        text = capped(text)
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


def _load(kind: str, items: Iterable[tuple[str, Where]], name: str) -> NamedList:
    problems: list[Problem] = []
    dropped = 0

    def bad(where: Where, exc: BadItem) -> None:
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
        result = load_cidr(items, name, bad)
    elif kind == "prefix":
        result = PrefixList(name, _parsed(items, _parse_prefix, bad))
    elif kind in ("country", "asn", "string"):
        parsers: dict[str, Callable[[str], str | int]] = {
            "country": _parse_country,
            "asn": _parse_asn,
            "string": _parse_string,
        }
        result = ValueList(name, kind, _parsed(items, parsers[kind], bad))
    elif kind == "regex":
        result = RegexList(name, _parsed(items, _parse_regex, bad))
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


def _parsed(items: Iterable[tuple[str, Where]], parse: Callable[[str], T], bad: BadSink) -> list[T]:
    """Every item parsed; each bad one reported to `bad` and left out."""
    out: list[T] = []
    for item, where in items:
        try:
            out.append(parse(item))
        except BadItem as exc:
            bad(where, exc)
    return out


def _parse_prefix(text: str) -> str:
    digits = text[1:] if text.startswith("+") else text
    if not (digits.isascii() and digits.isdigit()):
        raise BadItem(f"{text!r} is not a phone prefix (digits, optionally after '+')")
    if len(digits) > 15:
        raise BadItem(f"{text!r} is longer than any phone number (15 digits)")
    return digits


def _parse_country(text: str) -> str:
    try:
        return country_code(text)
    except NotACountry as exc:
        raise BadItem(str(exc)) from None


def _parse_asn(text: str) -> int:
    digits = text[2:] if text[:2] in ("AS", "as", "As") else text
    if not (digits.isascii() and digits.isdigit()) or int(digits) > _ASN_MAX:
        raise BadItem(f"{text!r} is not an AS number (1234 or AS1234)")
    return int(digits)


def _parse_string(text: str) -> str:
    return text


def _parse_regex(text: str) -> re.Pattern[str]:
    try:
        return compile_regex(text)
    except UnsafeRegex as exc:
        raise BadItem(str(exc), exc.offset) from None
