"""Every condition type, against real Signals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.errors import ConfigError
from gateway.policy.loader import load_rules
from gateway.signals import Signals
from tests.policy.helpers import signals, write_rules


def matcher(tmp_path: Path, condition: str, lists: str = "") -> Any:
    """Load a one-rule set whose conditions are `condition`; return its condition object."""
    write_rules(
        tmp_path,
        {
            "10-a.yaml": f"""
lists:
  {lists or "unused: {kind: string, items: [x]}"}
rules:
  - id: r
    description: d
    conditions: {condition}
    action: block
"""
        },
    )
    return load_rules(tmp_path).rules[0].condition


def check(tmp_path: Path, condition: str, s: Signals, lists: str = "") -> bool:
    return bool(matcher(tmp_path, condition, lists).matches(s))


def test_equals_string_and_number_type(tmp_path: Path) -> None:
    """`equals` compares the signal to one value."""
    cond = "{signal: phone.type, equals: PREMIUM_RATE}"
    assert check(tmp_path, cond, signals(number_type="PREMIUM_RATE"))
    assert not check(tmp_path, cond, signals(number_type="MOBILE"))


def test_equals_boolean(tmp_path: Path) -> None:
    """Boolean signals compare to true/false; an unknown value never matches."""
    cond = "{signal: ip.hosting, equals: true}"
    assert check(tmp_path, cond, signals(ip_hosting=True))
    assert not check(tmp_path, cond, signals(ip_hosting=False))
    assert not check(tmp_path, cond, signals(ip_hosting=None))


def test_in_countries(tmp_path: Path) -> None:
    """`in` tests membership in an inline list; country codes ignore case."""
    cond = "{signal: phone.country, in: [gb, IE]}"
    assert check(tmp_path, cond, signals(phone_country="GB"))
    assert not check(tmp_path, cond, signals(phone_country="FR"))


def test_in_asns(tmp_path: Path) -> None:
    """ASNs may be written as numbers or AS1234."""
    cond = "{signal: ip.asn, in: [AS16509, 14061]}"
    assert check(tmp_path, cond, signals(asn=16509))
    assert check(tmp_path, cond, signals(asn=14061))
    assert not check(tmp_path, cond, signals(asn=2856))


def test_prefix_on_the_number(tmp_path: Path) -> None:
    """`prefix` matches the E.164 number's leading digits, with or without '+'."""
    cond = "{signal: phone.e164, prefix: ['+4474001', '88']}"
    assert check(tmp_path, cond, signals(e164="+447400123456"))
    assert check(tmp_path, cond, signals(e164="+881612345678"))
    assert not check(tmp_path, cond, signals(e164="+447500123456"))


def test_phone_prefix_with_digits(tmp_path: Path) -> None:
    """`phone.prefix` with `digits: N` compares the first N digits exactly."""
    cond = "{signal: phone.prefix, digits: 4, in: ['4474']}"
    assert check(tmp_path, cond, signals(e164="+447400123456"))
    assert not check(tmp_path, cond, signals(e164="+447500123456"))


def test_cidr_v4_and_v6(tmp_path: Path) -> None:
    """`cidr` matches IPv4 and IPv6 networks."""
    cond = "{signal: ip, cidr: [10.0.0.0/8, '2001:db8::/32']}"
    assert check(tmp_path, cond, signals(ip="10.1.2.3"))
    assert check(tmp_path, cond, signals(ip="2001:db8:1::5"))
    assert not check(tmp_path, cond, signals(ip="11.0.0.1"))
    assert not check(tmp_path, cond, signals(ip=None))


def test_regex_searches_the_text(tmp_path: Path) -> None:
    """`regex` searches anywhere in the signal's text."""
    cond = "{signal: ua, regex: '(?i)headless|phantomjs'}"
    assert check(tmp_path, cond, signals(user_agent="Mozilla/5.0 HeadlessChrome/120"))
    assert not check(tmp_path, cond, signals(user_agent="Mozilla/5.0 Chrome/120"))


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("lt", 6, False),
        ("lt", 7, True),
        ("le", 6, True),
        ("gt", 5, True),
        ("gt", 6, False),
        ("ge", 6, True),
    ],
)
def test_numeric_comparisons(tmp_path: Path, op: str, value: int, expected: bool) -> None:
    """lt, le, gt, ge compare numeric signals."""
    cond = f"{{signal: body.code_length, {op}: {value}}}"
    assert check(tmp_path, cond, signals(code_length=6)) is expected


def test_known(tmp_path: Path) -> None:
    """`known: false` matches a signal without a value."""
    cond = "{signal: ip.country, known: false}"
    assert check(tmp_path, cond, signals(ip_country=None))
    assert not check(tmp_path, cond, signals(ip_country="GB"))


def test_named_cidr_list(tmp_path: Path) -> None:
    """`list:` tests membership in a named list (CIDR)."""
    lists = "offices: {kind: cidr, items: [192.0.2.0/24]}"
    cond = "{signal: ip, list: offices}"
    assert check(tmp_path, cond, signals(ip="192.0.2.77"), lists)
    assert not check(tmp_path, cond, signals(ip="198.51.100.1"), lists)


def test_named_prefix_list_from_a_file(tmp_path: Path) -> None:
    """A list file next to the rules holds prefixes, with comments."""
    write_rules(tmp_path, {"lists/ranges.txt": "# pumped ranges\n+881\n4474001  # one range\n"})
    lists = "ranges: {kind: prefix, file: lists/ranges.txt}"
    cond = "{signal: phone.e164, list: ranges}"
    assert check(tmp_path, cond, signals(e164="+881612345678"), lists)
    assert check(tmp_path, cond, signals(e164="+447400123456"), lists)
    assert not check(tmp_path, cond, signals(e164="+447500123456"), lists)


def test_named_country_asn_string_and_regex_lists(tmp_path: Path) -> None:
    """Country, ASN, string and regex lists each answer for their signal."""
    assert check(
        tmp_path,
        "{signal: ip.country, list: c}",
        signals(ip_country="NG"),
        "c: {kind: country, items: [NG]}",
    )
    assert check(
        tmp_path,
        "{signal: ip.asn, list: a}",
        signals(asn=16509),
        "a: {kind: asn, items: [AS16509]}",
    )
    assert check(
        tmp_path,
        "{signal: ua.family, list: s}",
        signals(ua_family="curl"),
        "s: {kind: string, items: [curl, wget]}",
    )
    assert check(
        tmp_path,
        "{signal: ip.org, list: r}",
        signals(as_org="Amazon.com, Inc."),
        "r: {kind: regex, items: ['(?i)amazon']}",
    )


def test_all_any_not(tmp_path: Path) -> None:
    """all/any/not combine conditions; a list means all."""
    cond = """
      all:
        - {signal: phone.country, equals: GB}
        - any:
            - {signal: ip.hosting, equals: true}
            - not: {signal: ip.country, equals: GB}
    """.replace("\n", "\n    ")
    assert check(tmp_path, cond, signals(ip_hosting=True))
    assert check(tmp_path, cond, signals(ip_country="FR"))
    assert not check(tmp_path, cond, signals(ip_country="GB"))
    assert not check(tmp_path, cond, signals(phone_country="FR", ip_hosting=True))
    implicit = "[{signal: phone.country, equals: GB}, {signal: ip.hosting, equals: true}]"
    assert check(tmp_path, implicit, signals(ip_hosting=True))
    assert not check(tmp_path, implicit, signals())


def test_explain_says_what_was_compared(tmp_path: Path) -> None:
    """A condition's explanation names the signal, its value (phone masked) and the result."""
    cond = matcher(tmp_path, "{signal: phone.e164, prefix: ['+4474']}")
    text = cond.explain(signals(e164="+447400123456"))
    assert text == "phone.e164=+44*******456 prefix [+4474]: yes"


def test_regex_sees_only_the_first_characters_of_the_signal(tmp_path: Path) -> None:
    """`regex` searches the first 512 characters: a long user agent cannot make it slow."""
    cond = '{signal: ua, regex: "z$"}'
    assert check(tmp_path, cond, signals(user_agent="a" * 100 + "z"))
    assert not check(tmp_path, cond, signals(user_agent="a" * 5000 + "z"))


def test_regex_open_to_catastrophic_backtracking_is_refused_at_load(tmp_path: Path) -> None:
    """A nested unbounded repetition, `(\\w+\\s?)*`, is refused with its file:line:col."""
    with pytest.raises(ConfigError) as caught:
        matcher(tmp_path, r'{signal: ua, regex: "^(\\w+\\s?)*$"}')
    (problem,) = caught.value.problems
    assert str(problem).startswith(f"{tmp_path / '10-a.yaml'}:6:")
    assert "catastrophic backtracking" in str(problem)
