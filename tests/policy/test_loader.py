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


def test_duplicate_ids_are_reported_even_with_other_errors(tmp_path: Path) -> None:
    """A duplicate id is reported even when the duplicate rule is invalid for other reasons too."""
    bad = GOOD.replace("PREMIUM_RATE", "PREMIUM")
    write_rules(tmp_path, {"10-a.yaml": GOOD, "20-b.yaml": bad})
    found = problems(tmp_path)
    assert any("duplicate rule id 'premium'" in p for p in found)
    assert any("unknown number type 'PREMIUM'" in p for p in found)


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


def _rule(conditions: str) -> str:
    """A one-rule file whose conditions are `conditions` (the rule's conditions on line 4)."""
    return GOOD.replace("{signal: phone.type, equals: PREMIUM_RATE}", conditions)


# One mistake (or a few of one family) per case: the file, then (where, what) for each problem that
# must be reported (where: the "line:col:" it starts at, "" for anywhere), and how many problems
# in all (None: at least those).
MISTAKES = {
    "unknown signal and operator name the known ones": (
        """
        rules:
          - id: one
            description: d
            conditions: {signal: phone.kind, equals: MOBILE}
            action: block
          - id: two
            description: d
            conditions: {signal: phone.type, equal: MOBILE}
            action: block
        """,
        [("4:18:", "unknown signal 'phone.kind'"), ("8:38:", "unknown key 'equal'")],
        2,
    ),
    "values are checked against the signal's kind": (
        """
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
        """,
        [
            ("6:33:", "phone.valid is true or false"),
            ("7:45:", "unknown number type 'CELLPHONE'"),
            ("8:38:", "`lt` takes a number"),
            ("9:32:", "`cidr` does not apply to ip.country"),
        ],
        None,
    ),
    "a list's kind must fit the signal": (
        """
        lists:
          nets: {kind: cidr, items: [10.0.0.0/8]}
        rules:
          - id: one
            description: d
            conditions: {signal: phone.e164, list: nets}
            action: block
        """,
        [("6:38:", "list 'nets' holds cidr items")],
        1,
    ),
    "a missing list file is reported at its file key": (
        """
        lists:
          nets: {kind: cidr, file: lists/missing.txt}
        rules: []
        """,
        [("2:22:", "cannot read list file lists/missing.txt")],
        1,
    ),
    "a list file name with a NUL byte is a located error": (
        'lists:\n  nets: {kind: cidr, file: "a\\0b"}\nrules: []\n',
        [("2:", "`file` is a path")],
        1,
    ),
    "a list that failed to load is named where it is used": (
        """
        lists:
          nets: {kind: cidr, items: [10.0.0.1/8]}
        rules:
          - id: nets
            description: nets
            conditions: {signal: ip, list: nets}
            action: block
        """,
        [("", "host bits set"), ("", "list 'nets' failed to load (see its errors)")],
        2,
    ),
    "velocity keys, limits, durations and count are checked": (
        """
        rules:
          - id: one
            description: d
            velocity:
              key: [recipient, phone.prefix:40]
              limits: [{max: 0, per: 10m}, {max: 5, per: 10 minutes}]
              count: messages
            action: block
        """,
        [
            ("5:24:", "'phone.prefix:40'"),
            ("6:17:", "`max` is a positive integer"),
            ("6:45:", "`per` is a duration"),
            ("7:7:", "`count` is attempts or sent"),
        ],
        None,
    ),
    "a velocity rule cannot allow": (
        """
        rules:
          - id: per-ip
            description: per ip
            velocity: {key: ip, limits: [{max: 5, per: 1m}]}
            action: allow
        """,
        [("", "its action is block, drop or tag, not allow")],
        1,
    ),
    "an empty condition list would match everything": (
        _rule("[]"),
        [("4:", "an empty list of conditions")],
        1,
    ),
    "phone.prefix values must have the prefix length": (
        _rule("{signal: phone.prefix, digits: 3, in: ['44740', '447']}"),
        [("", "'44740' has 5 digits but phone.prefix has `digits: 3`")],
        1,
    ),
}


@pytest.mark.parametrize(("text", "expected", "count"), MISTAKES.values(), ids=list(MISTAKES))
def test_a_mistake_is_reported_at_its_line_and_column(
    tmp_path: Path, text: str, expected: list[tuple[str, str]], count: int | None
) -> None:
    """Each mistake in a rule file is reported with its file:line:col and what is wrong."""
    write_rules(tmp_path, {"10-a.yaml": text})
    found = problems(tmp_path)
    file = tmp_path / "10-a.yaml"
    for where, what in expected:
        assert any(p.startswith(f"{file}:{where}") and what in p for p in found), (what, found)
    if count is not None:
        assert len(found) == count, found
