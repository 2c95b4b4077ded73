"""Named lists and signals: load time, lookup time and memory.

    .venv/bin/python -m bench.lists_bench                 # 1,000,000 CIDRs, 100,000 prefixes
    .venv/bin/python -m bench.lists_bench --cidrs 200000 --json

Generates the list files in a temporary directory (or --dir), then prints one line per measure.
Memory is the process's resident size (RSS) growth while loading and after, so run it alone.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gateway.lists import CidrList, PrefixList, load_list_file
from gateway.models import SmsRequest
from gateway.signals import SignalExtractor, ip_facts, phone_facts


def rss_mib() -> float:
    """Current resident set size in MiB (Linux /proc; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * resource.getpagesize() / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def per_call_us(fn: Callable[[str], object], args: list[str]) -> float:
    started = time.perf_counter()
    for a in args:
        fn(a)
    return (time.perf_counter() - started) / len(args) * 1e6


def write_cidrs(path: Path, count: int, rng: random.Random) -> None:
    with path.open("w") as out:
        for _ in range(count):
            n = rng.getrandbits(24)
            out.write(f"{n >> 16}.{(n >> 8) & 255}.{n & 255}.0/24\n")
        for i in range(count // 1000):
            out.write(f"2001:db8:{i:x}::/48\n")


def write_prefixes(path: Path, count: int, rng: random.Random) -> None:
    with path.open("w") as out:
        for _ in range(count):
            out.write(f"+{rng.randint(1, 99)}{rng.randint(0, 10 ** rng.randint(3, 8))}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cidrs", type=int, default=1_000_000)
    parser.add_argument("--prefixes", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=200_000)
    parser.add_argument("--dir", type=Path, help="where to write the generated lists")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    rng = random.Random(1)
    results: dict[str, float] = {}

    with tempfile.TemporaryDirectory() as tmp:
        where = args.dir or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        cidr_file, prefix_file = where / "cidrs.txt", where / "prefixes.txt"
        write_cidrs(cidr_file, args.cidrs, rng)
        write_prefixes(prefix_file, args.prefixes, rng)

        gc.collect()
        before = rss_mib()
        results["rss_before_load_mib"] = before
        started = time.perf_counter()
        cidrs = load_list_file("cidr", cidr_file, "cidrs")
        results["cidr_load_s"] = time.perf_counter() - started
        gc.collect()
        results["cidr_retained_mib"] = rss_mib() - before
        results["cidr_peak_rss_mib"] = peak_mib()
        assert isinstance(cidrs, CidrList)
        results["cidr_entries"] = len(cidrs)
        results["cidr_ranges"] = cidrs.ranges

        v4 = [".".join(str(rng.randint(1, 254)) for _ in range(4)) for _ in range(args.lookups)]
        v6 = [
            f"2001:db8:{rng.randint(0, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}" for _ in range(2000)
        ]
        results["cidr_lookup_v4_us"] = per_call_us(cidrs.contains, v4)
        results["cidr_lookup_v6_us"] = per_call_us(cidrs.contains, v6)

        started = time.perf_counter()
        prefixes = load_list_file("prefix", prefix_file, "prefixes")
        results["prefix_load_s"] = time.perf_counter() - started
        assert isinstance(prefixes, PrefixList)
        numbers = [f"+{rng.randint(10**10, 10**12)}" for _ in range(args.lookups)]
        results["prefix_match_us"] = per_call_us(prefixes.match, numbers)

    extractor = SignalExtractor(templates=["Your verification code is: @@password@@"])
    requests = [
        SmsRequest(
            request_id=str(i),
            received_at=0.0,
            shape="sms_gateway",
            recipient=f"+4474{rng.randint(10**7, 10**8 - 1)}",
            body=f"Your verification code is: {rng.randint(100000, 999999)}",
            ip=v4[i],
            user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0 Safari/537.36",
        )
        for i in range(min(20_000, len(v4)))
    ]
    phone_facts.cache_clear()
    ip_facts.cache_clear()
    started = time.perf_counter()
    for sms in requests:
        extractor.compute(sms)
    results["signals_cold_us"] = (time.perf_counter() - started) / len(requests) * 1e6
    started = time.perf_counter()
    for sms in requests:
        extractor.compute(sms)
    results["signals_warm_us"] = (time.perf_counter() - started) / len(requests) * 1e6

    if args.json:
        print(json.dumps({k: round(v, 3) for k, v in results.items()}))
    else:
        for key, value in results.items():
            print(f"{key:24} {value:12.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
