"""The settings and provider modules import on their own, first, in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

# The settings' root model collects the provider types, whose modules build on the settings: a
# loop that holds only in some import orders. Imports each module of it with no other gateway
# module loaded, and prints the ones that fail.
_SCRIPT = """
import importlib, pkgutil, sys, traceback
import gateway
names = [
    m.name for m in pkgutil.walk_packages(gateway.__path__, "gateway.")
    if m.name.startswith(("gateway.settings", "gateway.providers", "gateway.appkeys"))
]
for name in names:
    for loaded in [m for m in sys.modules if m == "gateway" or m.startswith("gateway.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        print(name, traceback.format_exc().splitlines()[-1])
print(len(names), "modules")
"""


def test_each_module_imports_first_without_a_cycle() -> None:
    """Whichever of these modules is imported first, its imports complete."""
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    *failures, count = result.stdout.strip().splitlines()
    assert int(count.split()[0]) > 25
    assert failures == []
