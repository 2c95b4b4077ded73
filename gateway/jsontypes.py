"""JSON values as plain data: the one type for what json.loads returns and json.dumps takes.

pydantic's JsonValue is the recursive union dict[str, JSON] | list[JSON] | str | int | float |
bool | None, spelt so that both mypy and pydantic models (a provider's `body_template`) accept it;
a plain recursive alias of our own would send pydantic into endless recursion on Python 3.11.
"""

from __future__ import annotations

from typing import TypeAlias

from pydantic import JsonValue

JSON: TypeAlias = JsonValue
JSONObject: TypeAlias = dict[str, JsonValue]
