"""Regular expressions written by operators (rule `regex:` conditions, `regex` lists).

They run on request data an attacker chooses, so a careless pattern must not become a ReDoS:
a pattern with a repeated group that itself repeats without bound (`(a+)+`, `(\\w*)*`,
`(x.*){2,}`), the classic source of catastrophic backtracking, is refused when the rules load, and
every search sees at most `INPUT_MAX` characters of the text.
"""

from __future__ import annotations

import re

from gateway.errors import InputError

# Characters of a text a regex sees: as many as the user-agent classifier reads.
INPUT_MAX = 512

_UNBOUNDED = re.compile(r"[*+]|\{\d*,\}")


class UnsafeRegex(InputError):
    """A pattern refused: invalid, or open to catastrophic backtracking (the message says why)."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


def compile_regex(text: str) -> re.Pattern[str]:
    """Compile an operator's pattern; raise UnsafeRegex for an invalid or catastrophic one."""
    try:
        pattern = re.compile(text)
    except re.error as exc:
        unsafe = UnsafeRegex(f"invalid regular expression {text!r}: {exc.msg}", exc.pos or 0)
        raise unsafe from exc
    nested = nested_repeat(text)
    if nested is not None:
        raise UnsafeRegex(
            f"regular expression {text!r} repeats a group that repeats without bound "
            f"(at {nested}: catastrophic backtracking on crafted input); "
            "rewrite it without nesting the repetition",
            nested,
        )
    return pattern


def capped(text: str) -> str:
    """The part of `text` a regex searches."""
    return text[:INPUT_MAX]


def nested_repeat(text: str) -> int | None:
    """The offset of a group that holds an unbounded repetition and is itself repeated without
    bound, else None. A scan of the pattern text (escapes and character classes skipped)."""
    # One entry per open group: does its body repeat something without bound?
    stack: list[bool] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(text, i)
            continue
        if c == "(":
            stack.append(False)
        elif c == ")" and stack:
            inner = stack.pop()
            repeat = _UNBOUNDED.match(text, i + 1)
            if inner and repeat:
                return i + 1
            if stack and (inner or repeat):
                stack[-1] = True
        elif stack and _UNBOUNDED.match(text, i):
            stack[-1] = True
        i += 1
    return None


def _class_end(text: str, start: int) -> int:
    """The offset just after the character class opening at `start`."""
    i = start + 1
    if i < len(text) and text[i] == "^":
        i += 1
    if i < len(text) and text[i] == "]":
        i += 1  # a leading ']' is a literal
    while i < len(text) and text[i] != "]":
        i += 2 if text[i] == "\\" else 1
    return i + 1
