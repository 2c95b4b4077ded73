"""The condition types: the operator written in YAML -> its class. Adding a type is one class
(in the module of its family, or a new one) and one line here; `tests/policy/test_registry.py`
checks that every entry parses and is in the README's rule reference."""

from __future__ import annotations

from gateway.policy.conditions.base import Leaf
from gateway.policy.conditions.compare import Compare, Ge, Gt, Le
from gateway.policy.conditions.known import Known
from gateway.policy.conditions.membership import Equals, In, InList
from gateway.policy.conditions.patterns import Cidr, Prefix, Regex

OPERATORS: dict[str, type[Leaf]] = {
    cls.key: cls
    for cls in (
        Equals,
        In,
        InList,
        Prefix,
        Cidr,
        Regex,
        Compare,
        Le,
        Gt,
        Ge,
        Known,
    )
}
COMBINATORS = ("all", "any", "not")
