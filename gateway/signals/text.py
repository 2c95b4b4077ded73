"""Request text signals: the request's language and whether the body matches a template."""

from __future__ import annotations

import re

_LANG_TAG = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")


def first_language(value: str | None) -> str | None:
    """The first tag of "en-US,en;q=0.9" (or one tag), as "en-US"; None when absent or "*"."""
    if not value:
        return None
    tag = value.split(",", 1)[0].split(";", 1)[0].strip().replace("_", "-")
    if not _LANG_TAG.match(tag):
        return None
    parts = tag.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(
            part.upper() if len(part) == 2 else part.lower() if len(part) != 4 else part.title()
        )
    return "-".join(out)


_MACRO = re.compile(r"(@@password@@|\{\{\s*[\w.]+\s*\}\})")
_CODE_MACRO = re.compile(r"@@password@@|\{\{\s*(?:code|password)\s*\}\}")


def compile_template(template: str) -> re.Pattern[str]:
    """A regex for an Auth0 SMS template: the code macro becomes digits, other macros any text.

    Template and body are both whitespace-normalised (`normalise_body`), so the pattern needs no
    `\\s+` beside a free-text macro: that pairing backtracks exponentially on hostile bodies.
    Free-text macros are bounded and bodies capped, so a match stays cheap.
    """
    parts: list[str] = []
    seen_code = False
    for token in _MACRO.split(normalise_body(template)):
        if not token:
            continue
        if _CODE_MACRO.fullmatch(token):
            parts.append(r"(?P=code)" if seen_code else r"(?P<code>\d+)")
            seen_code = True
        elif _MACRO.fullmatch(token):
            parts.append(rf"(?:.{{1,{_MACRO_MAX}}}?)")
        else:
            parts.append(re.escape(token))
    return re.compile("".join(parts))


# An application name or similar is never longer; a template matches bodies up to 3 segments.
_MACRO_MAX = 100
BODY_MATCH_MAX = 480


def normalise_body(text: str) -> str:
    """Whitespace runs (line breaks, double spaces) become one space; ends trimmed."""
    return " ".join(text.split())
