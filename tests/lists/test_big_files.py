"""Big list files are parsed in a child process (the serving loop keeps the GIL) with the same
results and the same located errors as small ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.lists import BIG_LIST_BYTES, CidrList, load_list_file_isolated


def big_cidr_file(path: Path, bad_line: int | None = None) -> Path:
    lines = []
    size = n = 0
    while size < BIG_LIST_BYTES + 1000:
        lines.append(f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}/32")
        size += len(lines[-1]) + 1
        n += 1
    if bad_line is not None:
        lines[bad_line - 1] = "10.0.0.1/33"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_big_file_loads_in_a_child_process(tmp_path: Path) -> None:
    """A file over the size threshold loads completely and answers lookups."""
    path = big_cidr_file(tmp_path / "big.txt")
    assert path.stat().st_size > BIG_LIST_BYTES
    listed = load_list_file_isolated("cidr", path, "big")
    assert isinstance(listed, CidrList)
    assert listed.contains("10.0.0.5")
    assert not listed.contains("11.0.0.5")


def test_big_file_errors_keep_their_locations(tmp_path: Path) -> None:
    """An error found in the child process comes back with its file:line:col."""
    path = big_cidr_file(tmp_path / "bad.txt", bad_line=40_000)
    with pytest.raises(ConfigError) as err:
        load_list_file_isolated("cidr", path, "bad")
    assert [str(p.location) for p in err.value.problems] == [f"{path}:40000:1"]
