"""Named lists: every kind, file format, errors with locations, longest prefix, v4/v6."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ConfigError, Location
from gateway.lists import (
    CidrList,
    PrefixList,
    RegexList,
    ValueList,
    load_list,
    load_list_file,
    load_list_file_async,
    read_list_file,
)


def items(*texts: str) -> list[tuple[str, Location]]:
    return [(t, Location("lists/test.txt", i, 1)) for i, t in enumerate(texts, start=1)]


def problems_of(kind: str, *texts: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_list(kind, items(*texts), "test")
    return [str(p) for p in info.value.problems]


# --- cidr --------------------------------------------------------------------------------------


def test_cidr_contains_ipv4_addresses_inside_a_network() -> None:
    """An IPv4 address inside a listed network is contained; one outside is not."""
    cidrs = load_list("cidr", items("10.0.0.0/8", "192.0.2.0/24"), "t")
    assert isinstance(cidrs, CidrList)
    assert cidrs.contains("10.255.1.2")
    assert cidrs.contains("192.0.2.255")
    assert not cidrs.contains("192.0.3.0")
    assert not cidrs.contains("9.255.255.255")


def test_cidr_contains_ipv6_addresses_inside_a_network() -> None:
    """IPv6 networks are matched separately from IPv4 ones."""
    cidrs = load_list("cidr", items("2001:db8::/32", "10.0.0.0/8"), "t")
    assert isinstance(cidrs, CidrList)
    assert cidrs.contains("2001:db8:ffff::1")
    assert not cidrs.contains("2001:db9::1")
    assert not cidrs.contains("::a00:1")  # 10.0.0.1 as an IPv4-compatible v6 address is not v4


def test_cidr_matches_ipv4_mapped_ipv6_addresses_against_ipv4_networks() -> None:
    """::ffff:10.1.2.3 is the IPv4 address 10.1.2.3."""
    cidrs = load_list("cidr", items("10.0.0.0/8"), "t")
    assert isinstance(cidrs, CidrList)
    assert cidrs.contains("::ffff:10.1.2.3")


def test_cidr_single_addresses_are_host_networks() -> None:
    """An address without a prefix length lists that one address (/32 or /128)."""
    cidrs = load_list("cidr", items("198.51.100.7", "2001:db8::7"), "t")
    assert isinstance(cidrs, CidrList)
    assert cidrs.contains("198.51.100.7")
    assert not cidrs.contains("198.51.100.8")
    assert cidrs.contains("2001:db8::7")
    assert not cidrs.contains("2001:db8::8")


def test_cidr_overlapping_and_adjacent_networks_merge() -> None:
    """Overlapping and adjacent networks merge into one range, with the same answers."""
    cidrs = load_list(
        "cidr", items("10.0.0.0/24", "10.0.1.0/24", "10.0.0.0/16", "10.0.0.128/25"), "t"
    )
    assert isinstance(cidrs, CidrList)
    assert cidrs.ranges == 1
    assert len(cidrs) == 4
    assert cidrs.contains("10.0.200.1")
    assert not cidrs.contains("10.1.0.0")


def test_cidr_bad_addresses_are_not_contained() -> None:
    """A malformed address is simply not in the list."""
    cidrs = load_list("cidr", items("0.0.0.0/0", "::/0"), "t")
    assert isinstance(cidrs, CidrList)
    assert cidrs.contains("0.0.0.0")
    for bad in ("", "not an ip", "10.0.0", "10.0.0.256", "1::2::3"):
        assert not cidrs.contains(bad)


def test_cidr_host_bits_set_is_an_error_with_a_suggestion() -> None:
    """A network with host bits set is refused, suggesting the network meant."""
    assert problems_of("cidr", "10.0.0.1/8") == [
        "lists/test.txt:1:1: list 'test' (cidr): '10.0.0.1/8': host bits set; "
        "did you mean 10.0.0.0/8?"
    ]
    (v6,) = problems_of("cidr", "2001:db8::1/32")
    assert "did you mean 2001:db8::/32?" in v6


def test_cidr_reports_every_bad_item_at_once() -> None:
    """All bad networks are reported together, each with its own line."""
    found = problems_of("cidr", "10.0.0.0/8", "nonsense", "1.2.3.0/33", "2001:db8::/129", "1.2.3")
    assert [p.split(":")[1] for p in found] == ["2", "3", "4", "5"]


# --- prefix ------------------------------------------------------------------------------------


def test_prefix_returns_the_longest_listed_prefix() -> None:
    """Of 44, 447700 and 4477009 the longest one the number starts with is returned."""
    prefixes = load_list("prefix", items("+44", "447700", "4477009"), "t")
    assert isinstance(prefixes, PrefixList)
    assert prefixes.match("+447700900123") == "4477009"
    assert prefixes.match("447700100123") == "447700"
    assert prefixes.match("+441632960000") == "44"
    assert prefixes.match("+33612345678") is None


def test_prefix_longer_than_the_number_does_not_match() -> None:
    """A listed prefix longer than the number is not its prefix."""
    prefixes = load_list("prefix", items("123456"), "t")
    assert isinstance(prefixes, PrefixList)
    assert prefixes.match("+1234") is None


def test_prefix_items_must_be_digits() -> None:
    """Letters, spaces inside, or more than 15 digits are errors."""
    found = problems_of("prefix", "+44 77", "44a", "1234567890123456", "+")
    assert len(found) == 4


# --- country / asn / string --------------------------------------------------------------------


def test_country_lists_hold_iso_codes_in_any_case() -> None:
    """Country codes are validated, stored upper case and compared ignoring case."""
    countries = load_list("country", items("GB", "fr"), "t")
    assert isinstance(countries, ValueList)
    assert countries.contains("FR")
    assert countries.contains("gb")
    assert not countries.contains("DE")


def test_country_lists_refuse_non_iso_codes_with_a_hint() -> None:
    """UK is not ISO 3166-1 (GB is); the error says so."""
    (uk, zz) = problems_of("country", "UK", "ZZ")
    assert "did you mean GB?" in uk
    assert "'ZZ' is not an ISO 3166-1 alpha-2 country code" in zz


def test_norway_read_as_false_by_yaml_gets_a_hint() -> None:
    """An item "False" in a country list (YAML's unquoted NO) says to quote NO."""
    (problem,) = problems_of("country", "False")
    assert "write 'NO' in quotes" in problem


def test_asn_lists_accept_numbers_and_as_prefixed_numbers() -> None:
    """AS1234 and 1234 are the same AS, in the file and when asked."""
    asns = load_list("asn", items("AS64500", "64501", "as64502"), "t")
    assert isinstance(asns, ValueList)
    assert asns.contains(64500)
    assert asns.contains("AS64501")
    assert asns.contains("64502")
    assert not asns.contains(64503)
    assert not asns.contains("ASX")


def test_asn_lists_refuse_non_numbers() -> None:
    """An ASN item that is not a number in range is an error."""
    assert len(problems_of("asn", "ASX", "4294967296", "-1")) == 3


def test_string_lists_match_exact_values() -> None:
    """String lists compare whole values, case-sensitively."""
    strings = load_list("string", items("curl", "python-requests"), "t")
    assert isinstance(strings, ValueList)
    assert strings.contains("curl")
    assert not strings.contains("Curl")
    assert not strings.contains("cur")


# --- regex -------------------------------------------------------------------------------------


def test_regex_returns_the_first_matching_pattern_in_order() -> None:
    """search returns the first listed pattern found anywhere in the text."""
    regexes = load_list("regex", items("(?i)headless", "Chrome/\\d+", "bot"), "t")
    assert isinstance(regexes, RegexList)
    assert regexes.search("Mozilla HeadlessChrome/120") == "(?i)headless"
    assert regexes.search("Mozilla Chrome/120 Safari") == "Chrome/\\d+"
    assert regexes.search("Firefox/120") is None


def test_invalid_regex_is_an_error_at_its_column() -> None:
    """A pattern that does not compile is reported at the offending character."""
    assert problems_of("regex", "ok", "a(b") == [
        "lists/test.txt:2:2: list 'test' (regex): invalid regular expression 'a(b': "
        "missing ), unterminated subpattern"
    ]


def test_regex_with_nested_unbounded_repetition_is_refused_at_its_line() -> None:
    """A pattern open to catastrophic backtracking, `(a+)+`, is refused where it is written."""
    found = problems_of("regex", "ok", "^(a+)+$")
    assert len(found) == 1
    assert found[0].startswith("lists/test.txt:2:6: list 'test' (regex): regular expression")
    assert "catastrophic backtracking" in found[0]


def test_regex_list_searches_only_the_first_characters_of_the_text() -> None:
    """A regex list sees the first 512 characters of a text, so a long input costs no more."""
    regexes = load_list("regex", items("z$"), "t")
    assert isinstance(regexes, RegexList)
    assert regexes.search("a" * 100 + "z") == "z$"
    assert regexes.search("a" * 5000 + "z") is None


def test_unknown_kind_is_an_error() -> None:
    """A kind that does not exist is refused, naming the kinds that do."""
    with pytest.raises(ConfigError, match="unknown kind 'ipset'; one of cidr, prefix"):
        load_list("ipset", items("1"), "t")


# --- files -------------------------------------------------------------------------------------


def test_list_files_skip_blanks_and_comments_and_keep_locations(tmp_path: Path) -> None:
    """Whole-line and trailing comments and blank lines are skipped; items keep file:line:col."""
    path = tmp_path / "asns.txt"
    path.write_text("# hosting providers\n\nAS64500   # Example Hosting\n   64501\n")
    assert read_list_file(path) == [
        ("AS64500", Location(str(path), 3, 1)),
        ("64501", Location(str(path), 4, 4)),
    ]


def test_hash_without_whitespace_before_it_is_part_of_the_item(tmp_path: Path) -> None:
    """Only `#` after whitespace starts a trailing comment, so regexes may contain `#`."""
    path = tmp_path / "bodies.txt"
    path.write_text("code#[0-9]+  # codes with a hash\n")
    assert [item for item, _ in read_list_file(path)] == ["code#[0-9]+"]


def test_errors_in_a_list_file_name_file_line_and_column(tmp_path: Path) -> None:
    """A bad item in a file is reported with the file's path, its line and column."""
    path = tmp_path / "nets.txt"
    path.write_text("10.0.0.0/8\n  10.0.0.1/8\n")
    with pytest.raises(ConfigError) as info:
        load_list_file("cidr", path, "nets")
    assert str(info.value).startswith(f"{path}:2:3: list 'nets' (cidr): '10.0.0.1/8'")


def test_missing_list_file_is_a_config_error(tmp_path: Path) -> None:
    """A list file that cannot be read is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="cannot read list file"):
        read_list_file(tmp_path / "absent.txt")


async def test_list_files_load_in_a_worker_thread(tmp_path: Path) -> None:
    """load_list_file_async builds the same list without blocking the event loop."""
    path = tmp_path / "prefixes.txt"
    path.write_text("+44\n+4477\n")
    prefixes = await load_list_file_async("prefix", path, "p")
    assert isinstance(prefixes, PrefixList)
    assert prefixes.match("+447700900123") == "4477"
