"""bench/results/latest.md and latest.json from one run's report dict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TARGETS = {"attack": 0.50, "clean": 0.40, "mix": None}


def _ok(flag: bool | None) -> str:
    return "n/a" if flag is None else ("met" if flag else "**not met**")


def targets(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows."""
    rows: list[tuple[str, str, str]] = []
    w = report.get("workloads", {})
    for name, share in TARGETS.items():
        if name in w and share is not None:
            ratio = w[name]["ratio"]
            rows.append(
                (f"{name} path >= {share:.0%} of bare req/s", f"{ratio:.0%}", _ok(ratio >= share))
            )
    for name, row in w.items():
        fixed = row["smsguard_fixed"].get("evalsha_per_req", 0)
        sat = row["smsguard"].get("evalsha_per_req", 0)
        rows.append(
            (
                f"{name}: one Redis round trip (one EVALSHA) per decision",
                f"{fixed:.2f} EVALSHA/req at half saturation; at saturation {sat:.2f} "
                f"(so {max(0.0, 1 - sat):.0%} of decisions fell back to per-process counters)",
                _ok(0.99 <= fixed <= 1.01 and sat >= 0.99),
            )
        )
    for name, row in w.items():
        added = row["added_p99_ms"]
        rows.append(
            (
                f"{name}: p99 added at half saturation <= 5 ms",
                f"{added:+.2f} ms ({row['smsguard_fixed']['p99_ms']:.2f} vs "
                f"{row['bare_fixed']['p99_ms']:.2f} ms at {row['fixed_rate']:.0f}/s)",
                _ok(added <= 5.0),
            )
        )
    rl = report.get("reload")
    if rl:
        rows.append(
            (
                "reload of the big list stalls the loop <= 50 ms",
                f"probe max {rl['during_max_ms']:.1f} ms (baseline max "
                f"{rl['baseline_max_ms']:.1f} ms), reload {rl['reload_s']} s, {rl['outcome']}",
                _ok(rl["outcome"] == "reloaded" and rl["during_max_ms"] <= 50),
            )
        )
    lm = report.get("list_memory", {})
    if "lists_steady_mib" in lm:
        rows.append(
            (
                "the big lists cost <= 150 MB",
                f"{lm['lists_steady_mib']} MiB kept, {lm['lists_peak_mib']} MiB peak while loading",
                _ok(lm["lists_steady_mib"] * 1.048576 <= 150),
            )
        )
    sc = report.get("scaling", {})
    for name, row in sc.items():
        rows.append(
            (
                f"{name}: {report['options']['workers']} workers >= 1.7x one",
                f"{row['smsguard_speedup']:.2f}x (bare {row['bare_speedup']:.2f}x)",
                _ok(row["smsguard_speedup"] >= 1.7),
            )
        )
    return rows


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    o = report["options"]
    sizes = o["sizes"]
    lines = [
        f"# smsguard benchmark ({report['mode']}, {report['started']})",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, "
        f"Linux {m['kernel']}, "
        f"Python {m['python']}, aiohttp {m['aiohttp']}, redis-server {m['redis_server']}, "
        f"{m['wrk']}. Load average at start {report['load_average_start'][0]:.2f}, at end "
        f"{report['load_average_end'][0]:.2f}. Elapsed {report['elapsed_s']:.0f} s. "
        f"Commit {report.get('commit', 'unknown')}.",
        "",
        f"{o['workers']} worker(s) for both apps; wrk 1 thread x {o['connections']} "
        "connections for "
        f"{o['duration']:.0f} s per saturation run (after {o['warmup']:.0f} s warm-up); open-loop "
        f"client for {o['fixed_duration']:.0f} s at half of smsguard's saturation rate. "
        f"Rules: shipped {', '.join(report['rules']['shipped_rule_files']) or '(none found)'} + "
        f"{sizes['cidrs']:,} CIDRs + {sizes['prefixes']:,} prefixes"
        + (" + a bench per-number limit" if report["rules"].get("added_recipient_rule") else "")
        + ".",
        "",
        "## Throughput at saturation",
        "",
        "| workload | bare req/s | smsguard req/s | ratio | smsguard non-2xx | sent/req | "
        "worker CPU us/req (bare / smsguard) | Redis cmds/req (client / incl. script) | "
        "EVALSHA/req | redis-server CPU us/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in report.get("workloads", {}).items():
        b, s = row["bare"], row["smsguard"]
        lines.append(
            f"| {name} | {b['rps']:,.0f} | {s['rps']:,.0f} | {row['ratio']:.0%} | "
            f"{s['non_2xx'] / max(1, s['requests']):.0%} | {s['provider_sends_per_req']:.2f} | "
            f"{b['worker_cpu_us_per_req']:.0f} / {s['worker_cpu_us_per_req']:.0f} | "
            f"{s['redis_client_cmds_per_req']:.2f} / {s['redis_cmds_per_req']:.2f} | "
            f"{s['evalsha_per_req']:.2f} | {s['redis_cpu_us_per_req']:.0f} |"
        )
    lines += [
        "",
        "## Latency at a fixed rate (open loop, from the scheduled send time)",
        "",
        "| workload | rate/s | bare p50 / p99 / p99.9 ms | smsguard p50 / p99 / p99.9 ms | "
        "p99 added | smsguard dropped | EVALSHA/req | worker CPU us/req (bare / smsguard) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in report.get("workloads", {}).items():
        b, s = row["bare_fixed"], row["smsguard_fixed"]
        lines.append(
            f"| {name} | {row['fixed_rate']:,.0f} | {b['p50_ms']:.2f} / {b['p99_ms']:.2f} / "
            f"{b['p999_ms']:.2f} | {s['p50_ms']:.2f} / {s['p99_ms']:.2f} / {s['p999_ms']:.2f} | "
            f"{row['added_p99_ms']:+.2f} | {s['dropped'] + s['unfinished']} | "
            f"{s.get('evalsha_per_req', 0):.2f} | {b.get('worker_cpu_us_per_req', 0):.0f} / "
            f"{s.get('worker_cpu_us_per_req', 0):.0f} |"
        )
    rss = report.get("rss_mib", {})
    lm = report.get("list_memory", {})
    rl = report.get("reload", {})
    lines += ["", "## Memory and reload", ""]
    if rss:
        lines.append(
            f"- RSS per worker after the runs: smsguard {rss['smsguard']} MiB, bare "
            f"{rss['bare']} MiB."
        )
    if "lists_steady_mib" in lm:
        lines.append(
            f"- The two big lists in one process: {lm['lists_steady_mib']} MiB kept, "
            f"{lm['lists_peak_mib']} MiB at the peak of loading; rule set load "
            f"{lm['load_with_lists_s']} s with them, {lm['load_without_lists_s']} s without."
        )
    elif lm:
        lines.append(f"- List memory measurement failed: {lm.get('error', '')[:300]}")
    if rl:
        lines.append(
            f"- Reload (one CIDR appended + SIGHUP, every worker): {rl['outcome']} in "
            f"{rl['reload_s']} s. /healthz probed at 1,000/s open loop: baseline p99 "
            f"{rl['baseline_p99_ms']:.2f} ms / max {rl['baseline_max_ms']:.2f} ms; "
            "during the reload "
            f"p50 {rl['during_p50_ms']:.2f}, p99 {rl['during_p99_ms']:.2f}, max "
            f"{rl['during_max_ms']:.2f} ms, {rl['during_over_50ms']} of {rl['during_samples']} "
            "probes over 50 ms."
        )
    lines.append(
        f"- smsguard startup (rules with the big lists, GeoIP, all workers ready): "
        f"{report.get('startup_s', 0)} s."
    )
    mc = report.get("micro", {})
    if mc and "error" not in mc:
        names = {
            "jwt_verify": "intake: JWT verify (TokenVerifier.verify)",
            "json_parse_and_phone_normalise": "intake: JSON + fields + phone to E.164 (parse)",
            "json_loads_only": "  of which json.loads",
            "signals_cold": "signals, new number + IP (clean path)",
            "signals_warm": "signals, repeated number + IP (attack path, LRU hits)",
            "phone_facts_cold": "  of which phone_facts (parse, valid, type), uncached",
            "geoip_country_cold": "  GeoIP country lookup alone, uncached",
            "policy_decide_local_counters": "policy: decide, all rules, in-process counters",
            "events_record": "events: record (queue only; the writer runs later)",
            "request_log_line": "request log line (structlog JSON)",
            "metrics_3_updates": "metrics: 3 Prometheus updates",
        }
        lines += [
            "",
            "## CPU per stage (one process, best of 5 loops, no profiler)",
            "",
            "| stage | us per call |",
            "|---|---:|",
        ]
        for key, label in names.items():
            if key in mc:
                lines.append(f"| {label} | {mc[key]:.1f} |")
    ab = report.get("ablation", {})
    if ab:
        full = ab["variants"].get("full", {})
        lines += [
            "",
            "## What each part costs inside the server (1 worker, saturation, "
            f"{ab['duration_s']:.0f} s runs; indicative: one run each on a shared machine)",
            "",
            "| variant | attack req/s | attack CPU us/req (saved) | clean req/s | "
            "clean CPU us/req (saved) |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, row in ab["variants"].items():
            saved_a = full.get("attack", 0) - row["attack"]
            saved_c = full.get("clean", 0) - row["clean"]
            lines.append(
                f"| {name}: {row['what']} | {row['attack_rps']:,.0f} | "
                f"{row['attack']:.0f} ({saved_a:+.0f}) | {row['clean_rps']:,.0f} | "
                f"{row['clean']:.0f} ({saved_c:+.0f}) |"
            )
        lines.append(
            "\nWithout velocity rules the attack requests are no longer refused but sent, so only "
            "the clean column compares for that row."
        )
    sc = report.get("scaling", {})
    gc_lines: list[str] = []
    if sc:
        lines += [
            "",
            f"## Scaling (1 worker vs {o['workers']})",
            "",
            "| workload | bare 1w req/s | bare speedup | smsguard 1w req/s | smsguard speedup |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, row in sc.items():
            gcp = row.get("gc_pauses", {})
            if gcp:
                gc_lines.append(
                    f"- {name}: "
                    + ", ".join(
                        f"gen{g} {v['count']}x (max {v['max_ms']} ms)" for g, v in gcp.items()
                    )
                )
            lines.append(
                f"| {name} | {row['bare_1w']:,.0f} | {row['bare_speedup']:.2f}x | "
                f"{row['smsguard_1w']['rps']:,.0f} | {row['smsguard_speedup']:.2f}x |"
            )
        if gc_lines:
            lines += [
                "",
                "Garbage-collector pauses in the 1-worker smsguard runs (no profiler):",
                "",
                *gc_lines,
            ]
    prof = report.get("profile", {})
    if prof:
        names = list(prof)
        lines += [
            "",
            "## Where a worker's CPU goes (pyinstrument, 1 worker, saturation)",
            "",
            "| stage | " + " | ".join(f"{n} us/req (share)" for n in names) + " |",
            "|---|" + "---:|" * len(names),
        ]
        stages: list[str] = []
        for n in names:
            for st in prof[n]["stages"]:
                if st["stage"] not in stages:
                    stages.append(st["stage"])
        for st in stages:
            cells = []
            for n in names:
                hit = next((x for x in prof[n]["stages"] if x["stage"] == st), None)
                cells.append(f"{hit['us_per_request']:.0f} ({hit['share']:.0%})" if hit else "-")
            lines.append(f"| {st} | " + " | ".join(cells) + " |")
        lines.append("")
        for n in names:
            gcp = prof[n].get("gc_pauses", {})
            if gcp:
                lines.append(
                    f"GC during the {n} run: "
                    + ", ".join(
                        f"gen{g} {v['count']}x (max {v['max_ms']} ms, total {v['total_ms']} ms)"
                        for g, v in gcp.items()
                    )
                    + "."
                )
        lines.append(
            "CPU per request under the profiler: "
            + ", ".join(f"{n} {prof[n]['cpu_us_per_req_under_profiler']:.0f} us" for n in names)
            + "."
        )
    lines += ["", "## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    for target, measured, verdict in targets(report):
        lines.append(f"| {target} | {measured} | {verdict} |")
    return "\n".join(lines) + "\n"


def write_reports(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    md = out / "latest.md"
    js = out / "latest.json"
    report["targets"] = [{"target": t, "measured": m, "verdict": v} for t, m, v in targets(report)]
    js.write_text(json.dumps(report, indent=2, default=str) + "\n")
    md.write_text(markdown(report))
    return md, js


BEGIN = "<!-- bench:results:begin (written by `python -m bench.run --update-docs`) -->"
END = "<!-- bench:results:end -->"


def update_docs(doc: Path, md: Path) -> bool:
    """Replace the block between the markers in `doc` with latest.md (its title dropped)."""
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        return False
    body = md.read_text().split("\n", 1)[1].strip()
    body = body.split("\n## Targets", 1)[0].strip()  # the doc has its own targets section
    body = body.replace("\n## ", "\n#### ")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}")
    return True
