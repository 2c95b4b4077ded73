"""What the big lists cost: load the rule set with and without them in a fresh process.

Run: python -m bench.listmem RULES_DIR  (the dir holds zz-bench.yaml, which adds the lists)
Prints one JSON object: load seconds, RSS growth kept after loading (steady) and at its peak.
"""

from __future__ import annotations

import gc
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.procs import rss_bytes


def _hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    import os

    from gateway.policy.loader import load_rules

    full = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "rules"
        shutil.copytree(full, base, ignore=shutil.ignore_patterns("zz-bench.yaml", "bench-*.txt"))
        pid = os.getpid()
        gc.collect()
        rss0 = rss_bytes(pid)
        started = time.perf_counter()
        without = load_rules(base)
        base_s = time.perf_counter() - started
        gc.collect()
        rss1 = rss_bytes(pid)
        hwm1 = _hwm()
        started = time.perf_counter()
        with_lists = load_rules(full)
        full_s = time.perf_counter() - started
        gc.collect()
        rss2 = rss_bytes(pid)
        hwm2 = _hwm()
    mib = 1024 * 1024
    print(
        json.dumps(
            {
                "rules_without_lists": len(without.rules),
                "rules_with_lists": len(with_lists.rules),
                "load_without_lists_s": round(base_s, 3),
                "load_with_lists_s": round(full_s, 3),
                "lists_steady_mib": round((rss2 - rss1) / mib, 1),
                "lists_peak_mib": round((max(hwm2, rss2) - rss1) / mib, 1),
                "process_rss_mib": round(rss2 / mib, 1),
                "interpreter_rss_mib": round(rss0 / mib, 1),
                "peak_before_lists_mib": round(hwm1 / mib, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
