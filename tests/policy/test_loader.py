"""Loading rule sets: strict validation, every problem at once, with file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.policy.loader import load_rules
from tests.policy.helpers import write_rules

GOOD = """
rules:
  - id: premium
    description: premium rate
    conditions: {signal: phone.type, equals: PREMIUM_RATE}
    action: block
"""


def problems(folder: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_rules(folder)
    return [str(p) for p in info.value.problems]


def test_valid_set_loads_in_file_name_order(tmp_path: Path) -> None:
    """Rules come in file-name order, then in their order inside a file."""
    write_rules(
        tmp_path,
        {
            "20-b.yaml": GOOD.replace("premium", "b-rule"),
            "10-a.yaml": GOOD.replace("premium", "a-rule")
            + GOOD.replace("rules:\n", "").replace("premium", "a-second"),
        },
    )
    rules = load_rules(tmp_path)
    assert [r.id for r in rules.rules] == ["a-rule", "a-second", "b-rule"]
    assert rules.files == (str(tmp_path / "10-a.yaml"), str(tmp_path / "20-b.yaml"))


def test_version_is_a_content_hash(tmp_path: Path) -> None:
    """The version changes when a file changes and stays when nothing does."""
    write_rules(tmp_path, {"10-a.yaml": GOOD})
    first = load_rules(tmp_path).version
    assert load_rules(tmp_path).version == first
    write_rules(tmp_path, {"10-a.yaml": GOOD.replace("premium rate", "premium-rate ranges")})
    assert load_rules(tmp_path).version != first


def test_every_error_is_reported_at_once_with_its_location(tmp_path: Path) -> None:
    """Unknown keys, bad CIDRs, countries, lists and regexes: all reported, with file:line:col."""
    f = tmp_path / "10-bad.yaml"
    write_rules(
        tmp_path,
        {
            "10-bad.yaml": """
        rules:
          - id: one
            description: d
            colour: red
            conditions: {signal: ip, cidr: [10.0.0.0/33]}
            action: block
          - id: two
            description: d
            conditions: {signal: phone.country, in: [GB, XX]}
            action: block
          - id: three
            description: d
            conditions: {signal: ip, list: nowhere}
            action: block
          - id: four
            description: d
            conditions: {signal: ua, regex: "(unclosed"}
            action: block
        """
        },
    )
    found = problems(tmp_path)
    assert any(p.startswith(f"{f}:4:5: unknown key 'colour'") for p in found), found
    assert any(p.startswith(f"{f}:5:37:") and "10.0.0.0/33" in p for p in found), found
    assert any(p.startswith(f"{f}:9:50:") and "XX" in p for p in found), found
    assert any(p.startswith(f"{f}:13:30: unknown list 'nowhere'") for p in found), found
    assert any(p.startswith(f"{f}:17:30: invalid regex") for p in found), found
    assert len(found) == 5


def test_duplicate_rule_ids_across_files_are_refused(tmp_path: Path) -> None:
    """A rule id is unique in the whole set; the error points at the second one and the first."""
    write_rules(tmp_path, {"10-a.yaml": GOOD, "20-b.yaml": GOOD})
    (found,) = problems(tmp_path)
    assert found.startswith(f"{tmp_path / '20-b.yaml'}:2:5: duplicate rule id 'premium'")
    assert f"{tmp_path / '10-a.yaml'}:2:5" in found


def test_unknown_signal_and_operator_are_refused(tmp_path: Path) -> None:
    """A misspelt signal or operator is an error naming the known ones."""
    write_rules(
        tmp_path,
        {
            "10-a.yaml": """
        rules:
          - id: one
            description: d
            conditions: {signal: phone.kind, equals: MOBILE}
            action: block
          - id: two
            description: d
            conditions: {signal: phone.type, equal: MOBILE}
            action: block
        """
        },
    )
    found = problems(tmp_path)
    assert [p.split(": ", 1)[0].rsplit(":", 2)[1:] for p in found] == [["4", "18"], ["8", "38"]]
    assert "unknown signal 'phone.kind'" in found[0]
    assert "unknown key 'equal'" in found[1]


def test_wrong_value_types_are_refused(tmp_path: Path) -> None:
    """Booleans, integers and number types are checked against the signal's kind."""
    write_rules(
        tmp_path,
        {
            "10-a.yaml": """
        rules:
          - id: one
            description: d
            conditions:
              all:
                - {signal: phone.valid, equals: "no"}
                - {signal: phone.type, in: [MOBILE, CELLPHONE]}
                - {signal: body.code_length, lt: four}
                - {signal: ip.country, cidr: [10.0.0.0/8]}
            action: block
        """
        },
    )
    found = problems(tmp_path)
    assert any("6:33: phone.valid is true or false" in p for p in found), found
    assert any("7:45: unknown number type 'CELLPHONE'" in p for p in found), found
    assert any("8:38: `lt` takes a number" in p for p in found), found
    assert any("9:32: `cidr` does not apply to ip.country" in p for p in found), found


def test_list_kind_must_fit_the_signal(tmp_path: Path) -> None:
    """A CIDR list cannot be tested against a phone number."""
    write_rules(
        tmp_path,
        {
            "10-a.yaml": """
        lists:
          nets: {kind: cidr, items: [10.0.0.0/8]}
        rules:
          - id: one
            description: d
            conditions: {signal: phone.e164, list: nets}
            action: block
        """
        },
    )
    (found,) = problems(tmp_path)
    assert "6:38: list 'nets' holds cidr items" in found


def test_list_file_errors_point_into_the_list_file(tmp_path: Path) -> None:
    """A bad line in a list file is reported at that file's line."""
    write_rules(
        tmp_path,
        {
            "lists/nets.txt": "# offices\n10.0.0.0/8\n300.1.1.0/24\n",
            "10-a.yaml": """
            lists:
              nets: {kind: cidr, file: lists/nets.txt}
            rules:
              - id: one
                description: d
                conditions: {signal: ip, list: nets}
                action: allow
            """,
        },
    )
    found = problems(tmp_path)
    assert any(p.startswith(f"{tmp_path / 'lists' / 'nets.txt'}:3:1:") for p in found), found
    assert any(p.endswith("list 'nets' failed to load (see its errors)") for p in found)


def test_missing_list_file_is_an_error(tmp_path: Path) -> None:
    """A list file that does not exist is reported at the `file:` key."""
    write_rules(
        tmp_path,
        {
            "10-a.yaml": """
        lists:
          nets: {kind: cidr, file: lists/missing.txt}
        rules: []
        """
        },
    )
    (found,) = problems(tmp_path)
    assert "2:22: cannot read list file lists/missing.txt" in found


def test_velocity_errors_are_reported(tmp_path: Path) -> None:
    """Unknown keys, bad durations and limits in a velocity block are errors."""
    write_rules(
        tmp_path,
        {
            "10-a.yaml": """
        rules:
          - id: one
            description: d
            velocity:
              key: [recipient, phone.prefix:40]
              limits: [{max: 0, per: 10m}, {max: 5, per: 10 minutes}]
              count: messages
            action: block
        """
        },
    )
    found = problems(tmp_path)
    assert any("5:24: 'phone.prefix:40'" in p for p in found), found
    assert any("6:17: `max` is a positive integer" in p for p in found), found
    assert any("6:45: `per` is a duration" in p for p in found), found
    assert any("7:7: `count` is attempts or sent" in p for p in found), found


def test_one_default_per_set(tmp_path: Path) -> None:
    """Two files with `default:` are refused."""
    write_rules(
        tmp_path,
        {"10-a.yaml": "rules: []\ndefault: allow\n", "20-b.yaml": "rules: []\ndefault: block\n"},
    )
    (found,) = problems(tmp_path)
    assert "a second `default`" in found


def test_yaml_syntax_error_has_its_location(tmp_path: Path) -> None:
    """A YAML syntax error is reported with the position the parser gives."""
    write_rules(tmp_path, {"10-a.yaml": "rules:\n  - id: [unclosed\n"})
    (found,) = problems(tmp_path)
    assert found.startswith(f"{tmp_path / '10-a.yaml'}:3:1: YAML syntax")


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    """A rules folder without rule files is refused rather than allowing everything."""
    assert "no rule files" in problems(tmp_path)[0]


def test_an_empty_condition_list_is_an_error(tmp_path: Path) -> None:
    """`conditions: []` would match every request: it is refused."""
    write_rules(
        tmp_path, {"10-a.yaml": GOOD.replace("{signal: phone.type, equals: PREMIUM_RATE}", "[]")}
    )
    (found,) = problems(tmp_path)
    assert found.startswith(f"{tmp_path / '10-a.yaml'}:4:")
    assert "an empty list of conditions" in found


def test_prefix_values_must_have_the_prefix_length(tmp_path: Path) -> None:
    """phone.prefix with digits: 3 cannot equal a 5-digit value: refused."""
    cond = "{signal: phone.prefix, digits: 3, in: ['44740', '447']}"
    write_rules(
        tmp_path, {"10-a.yaml": GOOD.replace("{signal: phone.type, equals: PREMIUM_RATE}", cond)}
    )
    (found,) = problems(tmp_path)
    assert "'44740' has 5 digits but phone.prefix has `digits: 3`" in found


def test_duplicate_ids_are_reported_even_with_other_errors(tmp_path: Path) -> None:
    """A duplicate id is reported even when the duplicate rule is invalid for other reasons too."""
    bad = GOOD.replace("PREMIUM_RATE", "PREMIUM")
    write_rules(tmp_path, {"10-a.yaml": GOOD, "20-b.yaml": bad})
    found = problems(tmp_path)
    assert any("duplicate rule id 'premium'" in p for p in found)
    assert any("unknown number type 'PREMIUM'" in p for p in found)


def test_a_list_that_failed_to_load_is_named_where_it_is_used(tmp_path: Path) -> None:
    """A rule using a broken list says the list failed to load (not that it is unknown)."""
    text = """
    lists:
      nets: {kind: cidr, items: [10.0.0.1/8]}
    rules:
      - id: nets
        description: nets
        conditions: {signal: ip, list: nets}
        action: block
    """
    write_rules(tmp_path, {"10-a.yaml": text})
    found = problems(tmp_path)
    assert "host bits set" in found[0]
    assert found[1].endswith("list 'nets' failed to load (see its errors)")


def test_velocity_rules_cannot_allow(tmp_path: Path) -> None:
    """A velocity rule acts over its limit: `allow` would send exactly that traffic."""
    text = """
    rules:
      - id: per-ip
        description: per ip
        velocity: {key: ip, limits: [{max: 5, per: 1m}]}
        action: allow
    """
    write_rules(tmp_path, {"10-a.yaml": text})
    (found,) = problems(tmp_path)
    assert "its action is block, drop or tag, not allow" in found


def test_errors_are_sorted_by_file_and_line(tmp_path: Path) -> None:
    """Problems come in reading order whatever order the checks found them."""
    text = """
    rules:
      - id: Bad Id
        description: x
        conditions: {signal: nope, equals: 1}
        action: block
        extra: 1
    """
    write_rules(tmp_path, {"20-b.yaml": text, "10-a.yaml": GOOD.replace("PREMIUM_RATE", "X")})
    found = problems(tmp_path)
    lines = [(p.split(":")[0], int(p.split(":")[1])) for p in found]
    assert lines == sorted(lines)
    assert len(found) == 4


def test_a_list_file_name_with_a_nul_byte_is_a_located_error(tmp_path: Path) -> None:
    """A list `file:` that is not a usable path is reported, not raised as a crash."""
    text = 'lists:\n  nets: {kind: cidr, file: "a\\0b"}\nrules: []\n'
    (tmp_path / "10-a.yaml").write_text(text)
    (found,) = problems(tmp_path)
    assert found.startswith(f"{tmp_path / '10-a.yaml'}:2:")
    assert "`file` is a path" in found


def test_duplicate_key_does_not_hide_the_other_errors(tmp_path: Path) -> None:
    """A key written twice is reported together with the file's other mistakes."""
    folder = write_rules(
        tmp_path,
        {
            "10-x.yaml": "rules:\n  - id: a\n    description: x\n    conditions: {signal: ua, "
            "equals: x}\n    action: block\n    action: drop\n  - id: b\n    description: y\n"
            "    conditions: {signal: ua, equals: y}\n    bogus: 1\n    action: allow\n",
        },
    )
    found = problems(folder)
    assert any(":6:5: duplicate key 'action'" in p for p in found)
    assert any(":10:5: unknown key 'bogus'" in p for p in found)
