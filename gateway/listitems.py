"""List items while a list loads: where each was written, and the error for a bad one."""

from __future__ import annotations

from collections.abc import Callable

from gateway.errors import InputError, Location

# What list items look like while loading: the text and where it was written. Locations are
# built lazily (a (file, line, col) tuple) so a million-line file does not create a million objects.
Where = Location | tuple[str, int, int]


class BadItem(InputError):
    """One list item is invalid; `offset` is the 0-based column inside the item, when known."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


BadSink = Callable[[Where, BadItem], None]
