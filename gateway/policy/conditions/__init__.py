"""Rule conditions: one class per operator, in a registry keyed by the operator written in YAML.

A leaf is a mapping with `signal:` and exactly one operator key:

    {signal: phone.type, in: [PREMIUM_RATE, SHARED_COST]}
    {signal: ip, list: office-networks}
    {signal: body.code_length, lt: 4}

Trees combine leaves with `all: [...]`, `any: [...]` and `not: {...}`.

    base.py         Condition, Leaf, the Operand a leaf parses, ParseContext, DefinedList
    combinators.py  all / any / not
    membership.py   equals, in, list (and which list kinds fit which signal kind)
    patterns.py     prefix, cidr, regex
    compare.py      lt, le, gt, ge
    known.py        known
    values.py       written values validated by signal kind
    registry.py     OPERATORS: operator -> class (add a condition type here)
    parser.py       parse_condition: YAML -> a Condition tree, every problem located
"""

from gateway.policy.conditions.base import (
    Condition,
    DefinedList,
    Leaf,
    Operand,
    ParseContext,
    YamlPath,
)
from gateway.policy.conditions.parser import parse_condition
from gateway.policy.conditions.registry import COMBINATORS, OPERATORS

__all__ = [
    "COMBINATORS",
    "OPERATORS",
    "Condition",
    "DefinedList",
    "Leaf",
    "Operand",
    "ParseContext",
    "YamlPath",
    "parse_condition",
]
