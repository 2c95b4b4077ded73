"""The error tree: every exception class of the package belongs to it, and the tree is drawn."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import gateway
from gateway import errors
from gateway.errors import SmsGuardError


def _exception_classes() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for module_info in pkgutil.walk_packages(gateway.__path__, "gateway."):
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == module.__name__:
                found.append(cls)
    return found


EXCEPTIONS = _exception_classes()


def test_the_package_defines_exception_classes_outside_errors_py() -> None:
    """The walk finds classes beside the code that raises them (so the checks below can fail)."""
    assert any(cls.__module__ != "gateway.errors" for cls in EXCEPTIONS)


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_every_exception_descends_from_the_root(cls: type[BaseException]) -> None:
    """Every exception class defined in `gateway` is a SmsGuardError."""
    assert issubclass(cls, SmsGuardError)


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_every_exception_is_drawn_in_the_tree(cls: type[BaseException]) -> None:
    """The tree in gateway/errors.py's docstring names every exception class."""
    assert re.search(rf"^\W*{cls.__qualname__}\b", errors.__doc__ or "", re.MULTILINE)
