"""`make bench`: smsguard against a bare aiohttp app, on loopback, same worker count, one run.

    python -m bench.run [--quick] [--workers N] [--duration S] [--no-profile] [--no-scaling]

Starts redis-server, a process playing Twilio, N bare-app workers and `smsguard serve --workers N`
(shipped rules + generated 1,000,000-entry CIDR and 100,000-entry prefix lists, GeoIP databases,
JWT auth); drives three workloads (attack, clean, mix) with wrk to saturation and with an open-loop
client at half of smsguard's saturation rate; measures Redis commands, CPU and RSS per worker, the
event-loop lag while the 1M list reloads, 1 vs N workers, and a pyinstrument profile of one worker.
Writes bench/results/latest.md and latest.json. Every child is in its own process group and is
killed on exit, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jwt
import redis

from bench import data
from bench.procs import Proc, children, cmdline, cpu_seconds, load_average, rss_bytes, wait_http
from bench.wrk import run_wrk, wrk_version
from gateway.redisproc import RedisProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WORKLOADS = ("attack", "clean", "mix")
PY = sys.executable


@dataclass
class Options:
    quick: bool
    workers: int
    duration: float
    warmup: float
    fixed_duration: float
    connections: int
    profile: bool
    scaling: bool
    out: Path
    sizes: data.Sizes
    workloads: tuple[str, ...] = WORKLOADS
    keep: bool = False
    cache: Path | None = None
    micro_calls: int = 3000
    update_docs: Path | None = None
    ablation: bool = False


@dataclass
class Env:
    """What every stack shares: data, redis-server, the Twilio stand-in, the token."""

    opts: Options
    tmp: Path
    bodies: dict[str, Path]
    rules: Path
    rules_info: dict[str, Any]
    geoip: dict[str, Path]
    redis: RedisProcess
    twilio: Proc
    twilio_port: int
    token: str
    secret: str
    cursors: dict[str, int] = field(default_factory=dict)
    pool: dict[str, int] = field(default_factory=dict)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis.url)

    def offset(self, workload: str, used: int) -> int:
        """Where the next run starts in the workload's body file; distinct numbers stay fresh."""
        start = self.cursors.get(workload, 0)
        self.cursors[workload] = (start + used) % max(1, self.pool[workload])
        return start


class Stack:
    """N bare-app workers and `smsguard serve --workers N`, each on its own port."""

    def __init__(
        self, env: Env, workers: int, *, profiled: bool = False, variant: str = "full"
    ) -> None:
        self.env = env
        self.variant = variant
        self.workers = workers
        self.bare_port = free_port()
        self.sms_port = free_port()
        self.bare: list[Proc] = []
        self.sms: Proc | None = None
        self.profiled = profiled
        self.profile_out = env.tmp / f"profile-{workers}w.pyisession"
        self.log = env.tmp / f"smsguard-{workers}w-{variant}.log"
        self.startup_s = 0.0

    def start(self) -> None:
        env = self.env
        for i in range(self.workers):
            self.bare.append(
                Proc(
                    f"bare-{i}",
                    [PY, "-m", "bench.bare", "--port", str(self.bare_port)],
                    env.tmp / "bare.log",
                )
            )
        rules = data.variant_rules(env.rules, env.tmp / f"rules-{self.variant}", self.variant)
        config = data.write_settings(
            env.tmp / f"smsguard-{self.workers}w-{self.variant}.yaml",
            port=self.sms_port,
            workers=self.workers,
            redis_url=env.redis.url,
            secret=env.secret,
            rules=rules,
            geoip=env.geoip,
            twilio_url=f"http://127.0.0.1:{env.twilio_port}",
            log_level="warning" if self.variant == "no-request-log" else "info",
        )
        if self.profiled:
            argv = [
                PY,
                "-m",
                "bench.profiled",
                "--config",
                str(config),
                "--out",
                str(self.profile_out),
            ]
        else:
            argv = [PY, "-m", "gateway", "serve", "--config", str(config)]
        started = time.monotonic()
        self.sms = Proc(f"smsguard-{self.workers}w", argv, self.log)
        wait_http(f"http://127.0.0.1:{self.bare_port}/healthz", self.bare)
        wait_http(f"http://127.0.0.1:{self.sms_port}/healthz", [self.sms], timeout=300)
        self._wait_all_workers()
        self.startup_s = time.monotonic() - started

    def _wait_all_workers(self) -> None:
        """/healthz answers once one worker is up; wait until every worker has bound the port."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            if (
                self.variant == "no-request-log" or text.count('"rules_loaded"') >= self.workers
            ) and len(self.sms_workers()) >= self.workers:
                time.sleep(0.5)
                return
            time.sleep(0.2)
        raise RuntimeError(f"smsguard workers did not all start: see {self.log}")

    def sms_workers(self) -> list[int]:
        assert self.sms is not None
        if self.workers == 1:
            return [self.sms.pid]
        return [
            p
            for p in children(self.sms.pid)
            if "multiprocessing" in cmdline(p) and "resource_tracker" not in cmdline(p)
        ]

    def bare_workers(self) -> list[int]:
        return [p.pid for p in self.bare]

    def stop(self) -> None:
        if self.sms is not None:
            self.sms.stop()
        for proc in self.bare:
            proc.stop()


# --------------------------------------------------------------------------------- measurements


def _redis_stats(client: redis.Redis) -> dict[str, int]:
    info = client.info("commandstats")
    out: dict[str, int] = {}
    for key, value in info.items():
        name = key.removeprefix("cmdstat_")
        calls = value["calls"] if isinstance(value, dict) else 0
        if name not in ("info", "config|resetstat", "flushall", "config"):
            out[name] = int(calls)
    return out


# Commands the velocity Lua script runs inside one EVALSHA (counted by commandstats too).
SCRIPT_INNER = ("zremrangebyscore", "zcount", "zadd", "pexpire")


def _twilio_count(env: Env) -> int:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{env.twilio_port}/stats", timeout=5) as r:
        return int(json.loads(r.read())["count"])


def drain(pids: list[int], limit: float = 10.0) -> None:
    """Wait until the workers are idle (requests wrk gave up on still finish server-side)."""
    deadline = time.monotonic() + limit
    last = sum(cpu_seconds(p) for p in pids)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = sum(cpu_seconds(p) for p in pids)
        if now - last < 0.25 * len(pids) * 0.05:  # under 5% of a core each
            return
        last = now


def saturate(env: Env, stack: Stack, app: str, workload: str) -> dict[str, Any]:
    """wrk at saturation; for smsguard also CPU, Redis commands and provider sends per request."""
    opts = env.opts
    port = stack.sms_port if app == "smsguard" else stack.bare_port
    pids = stack.sms_workers() if app == "smsguard" else stack.bare_workers()
    body = env.bodies[workload]
    script = env.tmp / "bench.lua"
    common = {"connections": opts.connections, "threads": 1, "script": script}
    client = env.client()
    client.flushall()
    if opts.warmup > 0 and (app == "smsguard" or not opts.quick):  # --quick: bare needs none
        run_wrk(
            port,
            body,
            env.token,
            duration=opts.warmup,
            offset=env.offset(workload, 5000),
            **common,
        )
        drain(pids)
    client.flushall()
    client.config_resetstat()
    sent0 = _twilio_count(env)
    cpu0 = {p: cpu_seconds(p) for p in pids}
    side0 = {"redis": cpu_seconds(env.redis._proc.pid), "twilio": cpu_seconds(env.twilio.pid)}  # type: ignore[union-attr]
    result = run_wrk(
        port,
        body,
        env.token,
        duration=opts.duration,
        offset=env.offset(workload, int(opts.duration * 6000)),
        **common,
    )
    cpu = sum(cpu_seconds(p) - cpu0[p] for p in pids)
    drain(pids)  # leftovers (answers wrk no longer waits for) are not counted in CPU/req
    n = max(1, result["requests"])
    result["worker_cpu_us_per_req"] = round(cpu / n * 1e6, 1)
    result["worker_cpu_cores"] = round(cpu / result["seconds"], 2)
    result["worker_rss_mib"] = [round(rss_bytes(p) / 2**20, 1) for p in pids]
    if app == "smsguard":
        stats = _redis_stats(client)
        total = sum(stats.values())
        inner = sum(stats.get(c, 0) for c in SCRIPT_INNER) if stats.get("evalsha") else 0
        result["redis_commands"] = stats
        result["redis_cmds_per_req"] = round(total / n, 3)
        result["redis_client_cmds_per_req"] = round((total - inner) / n, 3)
        result["evalsha_per_req"] = round(stats.get("evalsha", 0) / n, 3)
        result["provider_sends_per_req"] = round((_twilio_count(env) - sent0) / n, 3)
        result["redis_cpu_us_per_req"] = round(
            (cpu_seconds(env.redis._proc.pid) - side0["redis"]) / n * 1e6, 1
        )  # type: ignore[union-attr]
        result["twilio_cpu_us_per_req"] = round(
            (cpu_seconds(env.twilio.pid) - side0["twilio"]) / n * 1e6, 1
        )
    client.close()
    return result


def fixed_rate(env: Env, stack: Stack, app: str, workload: str, rate: float) -> dict[str, Any]:
    """The open-loop client at `rate` requests/s; latencies from the scheduled send time."""
    opts = env.opts
    port = stack.sms_port if app == "smsguard" else stack.bare_port
    pids = stack.sms_workers() if app == "smsguard" else stack.bare_workers()
    drain(pids)
    client = env.client()
    client.flushall()
    client.config_resetstat()
    cpu0 = {p: cpu_seconds(p) for p in pids}
    argv = [
        PY,
        "-m",
        "bench.openloop",
        "--port",
        str(port),
        "--rate",
        f"{rate:.1f}",
        "--duration",
        str(opts.fixed_duration),
        "--connections",
        str(opts.connections),
        "--bodies",
        str(env.bodies[workload]),
        "--token",
        env.token,
        "--offset",
        str(env.offset(workload, int(rate * opts.fixed_duration) + 1)),
    ]
    out = subprocess.run(
        argv, capture_output=True, text=True, timeout=opts.fixed_duration + 120, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"open-loop client failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout)
    cpu = sum(cpu_seconds(p) - cpu0[p] for p in pids)
    result["worker_cpu_us_per_req"] = round(cpu / max(1, result["completed"]) * 1e6, 1)
    if app == "smsguard":
        drain(pids)
        stats = _redis_stats(client)
        n = max(1, result["completed"])
        result["evalsha_per_req"] = round(stats.get("evalsha", 0) / n, 3)
        result["redis_commands"] = stats
    client.close()
    return result


def reload_lag(env: Env, stack: Stack) -> dict[str, Any]:
    """Probe /healthz at 1000/s (open loop, 16 connections over the workers) while every worker
    reloads the rule set after one line is appended to the 1M-entry CIDR list (SIGHUP)."""
    assert stack.sms is not None
    duration = min(120.0, 3.0 + 2.5 * stack.startup_s + 3.0)
    argv = [
        PY,
        "-m",
        "bench.openloop",
        "--port",
        str(stack.sms_port),
        "--rate",
        "1000",
        "--duration",
        f"{duration:.1f}",
        "--connections",
        "16",
        "--get",
        "/healthz",
        "--timeline",
    ]
    probe = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t_start = time.perf_counter()
    time.sleep(1.5 if env.opts.quick else 2.5)
    cidr = Path(env.rules_info["cidr_list"])
    with cidr.open("a") as handle:
        handle.write("99.255.255.254\n")
    log_at = stack.log.stat().st_size
    t_hup = time.perf_counter()
    stack.sms.signal(signal.SIGHUP)
    done_at = None
    outcome = "timeout"
    while time.perf_counter() - t_hup < duration - 2:
        with stack.log.open("rb") as handle:
            handle.seek(log_at)
            text = handle.read().decode(errors="replace")
        if text.count('"rules_reload_refused"'):
            outcome = "refused"
            done_at = time.perf_counter()
            break
        if text.count('"rules_reloaded"') >= stack.workers:
            outcome = "reloaded"
            done_at = time.perf_counter()
            break
        time.sleep(0.02)
    time.sleep(1.0)  # after the swap: the old rule set is freed on the event loop's thread
    probe.send_signal(signal.SIGINT)
    out, err = probe.communicate(timeout=duration + 60)
    if probe.returncode != 0:
        raise RuntimeError(f"probe failed: {err[-2000:]}")
    res = json.loads(out)
    samples = res.pop("samples")
    # The probe's time 0 is ~0.05 s after it started; perf_counter is one clock for all processes.
    hup_rel = t_hup - t_start - 0.05 - 0.25  # small margin for process start
    end_rel = (done_at - t_start if done_at else duration) + 0.5
    before = sorted(lat for t, lat in samples if 0.5 < t < hup_rel - 0.2)
    during = sorted(lat for t, lat in samples if hup_rel <= t <= end_rel)

    def pct(values: list[float], q: float) -> float:
        if not values:
            return 0.0
        return values[min(len(values) - 1, int(q / 100 * len(values)))]

    return {
        "outcome": outcome,
        "reload_s": round(done_at - t_hup, 3) if done_at else None,
        "probe_rate": 1000,
        "baseline_p99_ms": pct(before, 99),
        "baseline_max_ms": before[-1] if before else 0.0,
        "during_p50_ms": pct(during, 50),
        "during_p99_ms": pct(during, 99),
        "during_max_ms": during[-1] if during else 0.0,
        "during_samples": len(during),
        "during_over_50ms": sum(1 for v in during if v > 50),
        "probe": res,
    }


def list_memory(env: Env) -> dict[str, Any]:
    out = subprocess.run(
        [PY, "-m", "bench.listmem", str(env.rules)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    if out.returncode != 0:
        return {"error": out.stderr[-2000:]}
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def micro(env: Env) -> dict[str, Any]:
    """Per-stage CPU of the path in one process (bench/micro.py), on the clean bodies."""
    argv = [
        PY,
        "-m",
        "bench.micro",
        str(env.rules),
        str(next(iter(env.geoip.values())).parent),
        str(env.bodies["clean"]),
        env.secret,
        env.token,
    ]
    menv = {**os.environ, "BENCH_MICRO_N": str(env.opts.micro_calls)}
    out = subprocess.run(
        argv, capture_output=True, text=True, timeout=600, check=False, cwd=ROOT, env=menv
    )
    if out.returncode != 0:
        return {"error": out.stderr[-2000:]}
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _commit() -> str:
    """The commit benchmarked, with "+changes" when gateway/ or rules/ differ from it."""
    git = shutil.which("git")
    if git is None:
        return "unknown"
    head = (
        subprocess.run(
            [git, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        ).stdout.strip()
        or "unknown"
    )
    dirty = subprocess.run(
        [git, "status", "--porcelain", "--", "gateway", "rules"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    ).stdout.strip()
    return head + ("+changes" if dirty else "")


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    redis_version = (
        subprocess.run(
            [shutil.which("redis-server") or "/usr/bin/redis-server", "--version"],
            capture_output=True,
            text=True,
            check=False,
        )
        .stdout.split()[2]
        .removeprefix("v=")
    )
    import aiohttp

    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "ram_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "redis_server": redis_version,
        "wrk": wrk_version(),
    }


# ------------------------------------------------------------------------------------- the run


def prepare(opts: Options, tmp: Path) -> Env:
    cache = (opts.cache or Path(tempfile.gettempdir()) / "smsguard-bench-cache") / opts.sizes.tag()
    t0 = time.monotonic()
    bodies = data.write_bodies(cache / "bodies", opts.sizes)
    cidr, prefix = data.write_lists(cache / "lists", opts.sizes)
    geoip = data.write_geoip(cache / "geoip", min(2000, max(10, opts.sizes.cidrs // 100)))
    rules = tmp / "rules"
    info = data.bench_rules(ROOT / "rules", rules, cidr, prefix, opts.sizes)
    info["generate_s"] = round(time.monotonic() - t0, 1)
    pool = {k: sum(1 for _ in p.open()) for k, p in bodies.items()}
    rp = RedisProcess(tmp / "redis", appendonly=False).start()
    twilio_port = free_port()
    twilio = Proc(
        "twilio", [PY, "-m", "bench.twilio", "--port", str(twilio_port)], tmp / "twilio.log"
    )
    secret = secrets.token_urlsafe(32)
    now = int(time.time())
    token = jwt.encode(
        {"sub": "urn:Auth0", "aud": "urn:MySmsGateway", "iat": now, "exp": now + 6 * 3600},
        secret.encode(),
        algorithm="HS256",
    )
    env = Env(
        opts, tmp, bodies, rules, info, geoip, rp, twilio, twilio_port, token, secret, pool=pool
    )
    wait_http(f"http://127.0.0.1:{twilio_port}/stats", [twilio], timeout=20)
    return env


def run(opts: Options) -> dict[str, Any]:
    started = time.time()
    load_start = load_average()
    tmp = Path(tempfile.mkdtemp(prefix="smsguard-bench-"))
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "mode": "quick" if opts.quick else "full",
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()},
        "machine": machine(),
        "commit": _commit(),
        "load_average_start": load_start,
    }
    env: Env | None = None
    try:
        env = prepare(opts, tmp)
        report["rules"] = env.rules_info
        report["list_memory"] = list_memory(env)
        report["micro"] = micro(env)
        stack = Stack(env, opts.workers)
        stack.start()
        report["startup_s"] = round(stack.startup_s, 1)
        results: dict[str, Any] = {}
        for workload in opts.workloads:
            row: dict[str, Any] = {}
            row["bare"] = saturate(env, stack, "bare", workload)
            row["smsguard"] = saturate(env, stack, "smsguard", workload)
            rate = max(50.0, row["smsguard"]["rps"] / 2)
            row["fixed_rate"] = rate
            row["smsguard_fixed"] = fixed_rate(env, stack, "smsguard", workload, rate)
            row["bare_fixed"] = fixed_rate(env, stack, "bare", workload, rate)
            row["ratio"] = round(row["smsguard"]["rps"] / max(1.0, row["bare"]["rps"]), 3)
            row["added_p99_ms"] = round(
                row["smsguard_fixed"]["p99_ms"] - row["bare_fixed"]["p99_ms"], 3
            )
            results[workload] = row
            print(
                f"{workload}: bare {row['bare']['rps']:.0f}/s, smsguard "
                f"{row['smsguard']['rps']:.0f}/s ({row['ratio']:.0%}), p99 at {rate:.0f}/s "
                f"{row['smsguard_fixed']['p99_ms']:.1f} ms",
                file=sys.stderr,
            )
        report["workloads"] = results
        report["rss_mib"] = {
            "smsguard": [round(rss_bytes(p) / 2**20, 1) for p in stack.sms_workers()],
            "bare": [round(rss_bytes(p) / 2**20, 1) for p in stack.bare_workers()],
        }
        if _phase(report, "reload", lambda: reload_lag(env, stack)):
            print(
                f"reload: {report['reload']['outcome']} in {report['reload']['reload_s']} s, "
                f"probe max {report['reload']['during_max_ms']:.1f} ms",
                file=sys.stderr,
            )
        stack.stop()
        if (opts.workers > 1 and opts.scaling) or opts.profile or opts.ablation:
            one = Stack(env, 1, profiled=opts.profile)
            one.start()
            if opts.scaling and opts.workers > 1:
                _phase(report, "scaling", lambda: scaling_runs(env, one, results))
            if opts.profile:
                _phase(report, "profile", lambda: profile_runs(env, one))
            if opts.ablation:
                _phase(report, "ablation", lambda: ablation(env, one))
            one.stop()
    finally:
        Proc.stop_all()
        if env is not None:
            env.redis.stop()
        report["load_average_end"] = load_average()
        report["elapsed_s"] = round(time.time() - started, 1)
        if not opts.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            report["tmp"] = str(tmp)
    return report


def _phase(report: dict[str, Any], name: str, fn: Any) -> bool:
    """Run an optional phase; a failure is recorded in the report instead of losing the run."""
    import traceback

    try:
        report[name] = fn()
        return True
    except Exception:
        report.setdefault("errors", {})[name] = traceback.format_exc()[-3000:]
        print(f"{name} failed:\n{report['errors'][name]}", file=sys.stderr)
        return False


def _gc_pauses(stack: Stack, fn: Any) -> tuple[Any, dict[str, Any]]:
    """Run fn() while the profiled worker records its GC pauses (no profiler); (result, pauses)."""
    from bench.profiled import GC_ONLY

    assert stack.sms is not None
    if not stack.profiled:
        return fn(), {}
    for suffix in (".gc.json", ".done"):
        stack.profile_out.with_suffix(suffix).unlink(missing_ok=True)
    stack.sms.signal(GC_ONLY)
    result = fn()
    stack.sms.signal(signal.SIGUSR2)
    done = stack.profile_out.with_suffix(".done")
    for _ in range(100):
        if done.exists():
            break
        time.sleep(0.05)
    gc_file = stack.profile_out.with_suffix(".gc.json")
    return result, json.loads(gc_file.read_text()) if gc_file.exists() else {}


def scaling_runs(env: Env, one: Stack, results: dict[str, Any]) -> dict[str, Any]:
    """The saturation runs again with 1 worker: speed-up of N workers over one (and GC pauses)."""
    scaling: dict[str, Any] = {}
    for workload in env.opts.workloads:
        sms, pauses = _gc_pauses(one, lambda w=workload: saturate(env, one, "smsguard", w))
        scaling[workload] = {
            "bare_1w": saturate(env, one, "bare", workload)["rps"],
            "smsguard_1w": sms,
            "gc_pauses": pauses,
        }
        s1 = scaling[workload]["smsguard_1w"]["rps"]
        scaling[workload]["smsguard_speedup"] = round(
            results[workload]["smsguard"]["rps"] / max(1.0, s1), 2
        )
        scaling[workload]["bare_speedup"] = round(
            results[workload]["bare"]["rps"] / max(1.0, scaling[workload]["bare_1w"]), 2
        )
    return scaling


def ablation(env: Env, full: Stack) -> dict[str, Any]:
    """1 worker at saturation with one part taken out: req/s and worker CPU per request."""
    saved = env.opts.duration
    env.opts.duration = 2.0 if env.opts.quick else 5.0
    out: dict[str, Any] = {"duration_s": env.opts.duration, "variants": {}}
    try:
        for variant, what in data.VARIANTS.items():
            stack = full if variant == "full" else Stack(env, 1, profiled=True, variant=variant)
            if stack is not full:
                stack.start()
            try:
                row: dict[str, Any] = {"what": what}
                for workload in ("attack", "clean"):
                    res = saturate(env, stack, "smsguard", workload)
                    row[workload] = res["worker_cpu_us_per_req"]
                    row[f"{workload}_rps"] = res["rps"]
                out["variants"][variant] = row
            finally:
                if stack is not full:
                    stack.stop()
    finally:
        env.opts.duration = saved
    return out


def profile_runs(env: Env, stack: Stack) -> dict[str, Any]:
    """pyinstrument on the single worker during a saturation run of the clean and attack paths."""
    from bench.profile import fold, per_request

    assert stack.sms is not None
    out: dict[str, Any] = {}
    for workload in ("clean", "attack"):
        if workload not in env.opts.workloads:
            continue
        for suffix in (".pyisession", ".txt", ".done", ".gc.json"):
            stack.profile_out.with_suffix(suffix).unlink(missing_ok=True)
        stack.sms.signal(signal.SIGUSR1)
        res = saturate(env, stack, "smsguard", workload)
        stack.sms.signal(signal.SIGUSR2)
        for _ in range(600):
            if stack.profile_out.with_suffix(".done").exists():
                break
            time.sleep(0.1)
        totals = fold(stack.profile_out)
        text = stack.profile_out.with_suffix(".txt").read_text()
        (env.opts.out / f"profile-{workload}.txt").write_text(text)
        gc_file = stack.profile_out.with_suffix(".gc.json")
        out[workload] = {
            "gc_pauses": json.loads(gc_file.read_text()) if gc_file.exists() else {},
            "rps_under_profiler": res["rps"],
            "cpu_us_per_req_under_profiler": res["worker_cpu_us_per_req"],
            "stages": per_request(totals, res["worker_cpu_us_per_req"]),
        }
    return out


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small lists, short runs (<1 min)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, help="seconds per saturation run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument(
        "--no-ablation", action="store_true", help="skip the runs with one part taken out"
    )
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, configs)")
    parser.add_argument(
        "--update-docs",
        type=Path,
        metavar="MD",
        help="also copy the results into the marked block of this file (README.md)",
    )
    parser.add_argument("--cidrs", type=int)
    parser.add_argument("--prefixes", type=int)
    a = parser.parse_args(argv)
    quick = a.quick
    sizes = data.Sizes(
        cidrs=a.cidrs or (100_000 if quick else 1_000_000),
        prefixes=a.prefixes or (10_000 if quick else 100_000),
        clean_numbers=30_000 if quick else 200_000,
    )
    duration = a.duration or (2.0 if quick else 10.0)
    return Options(
        quick=quick,
        workers=a.workers,
        duration=duration,
        warmup=1.0,
        fixed_duration=1.5 if quick else duration,
        connections=a.connections,
        profile=not a.no_profile and not quick,
        scaling=not a.no_scaling and not quick,
        out=a.out,
        sizes=sizes,
        workloads=tuple(w for w in a.workloads.split(",") if w),
        keep=a.keep,
        micro_calls=300 if quick else 3000,
        ablation=not a.no_ablation and not quick,
        update_docs=a.update_docs,
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    opts.out.mkdir(parents=True, exist_ok=True)

    def on_signal(signum: int, _: object) -> None:
        Proc.stop_all()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    from bench.report import write_reports

    report = run(opts)
    md, js = write_reports(report, opts.out)
    if opts.update_docs is not None:
        from bench.report import update_docs

        if not update_docs(opts.update_docs, md):
            print(f"{opts.update_docs}: no bench:results markers, not updated", file=sys.stderr)
    print(md.read_text())
    print(f"wrote {md} and {js}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
