"""`smsguard simulate`: labelled real users and named attacks against the gateway, simulated time.

    generate (seeded plan per scenario) -> harness (the real app in-process, FakeClock, private
    Redis, synthetic GeoIP) -> runner (HTTP to POST /sms in planned order, the clock moved to each
    request; completions to the log-stream endpoint like Auth0) -> report (per scenario and seed)

Hours of traffic play in seconds; each scenario and seed runs on a fresh gateway and empty Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.errors import SmsGuardError

if TYPE_CHECKING:
    from gateway.prices import PriceTable
    from gateway.simulate.auth0logs import Deliver
    from gateway.simulate.generate import ScenarioConfig, Shape
    from gateway.simulate.harness import Harness
    from gateway.simulate.report import RunReport


class SimulateError(SmsGuardError):
    """A problem with the simulator's own inputs (printed, exit 2)."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `smsguard simulate` to the CLI."""
    p = sub.add_parser(
        "simulate",
        help="play labelled real users and named attacks against the rules, on simulated time",
        description=(
            "Runs the gateway in this process on a simulated clock (a private redis-server, the "
            "sandbox provider, synthetic GeoIP databases) and plays, per scenario and seed, a "
            "global app's real users mixed with one named attack; reports real users refused "
            "(overall, per country, per kind of user), attack messages refused and attack spend."
        ),
    )
    p.add_argument(
        "--scenarios", default=None, help="comma-separated subset (default: all; see README)"
    )
    p.add_argument("--seeds", default="1", help="comma-separated seeds, e.g. 1,2,3 (default 1)")
    p.add_argument(
        "--rules", help="rule folder to test (default: the settings' rules.path, else rules/)"
    )
    p.add_argument("--config", help="settings YAML to start from (rules, lists, prices ...)")
    p.add_argument("--legit-per-hour", type=float, default=600.0, help="real logins per hour (600)")
    p.add_argument(
        "--warmup-hours", type=float, default=2.0, help="real users alone before the attack (2)"
    )
    p.add_argument("--attack-scale", type=float, default=1.0, help="multiplies the attack's size")
    p.add_argument(
        "--colluding-rate",
        type=float,
        default=0.0,
        help="share of attack codes 'used' by colluding numbers (0)",
    )
    p.add_argument(
        "--countries",
        help="where the real users are, as weights: US:30,GB:10,DE:5 (default: 30 countries)",
    )
    p.add_argument(
        "--shape",
        choices=("action", "legacy"),
        default="action",
        help="Auth0 payload shape (default: the Action's, which carries req.geoip)",
    )
    p.add_argument(
        "--no-geoip", action="store_true", help="no GeoIP databases (IP country/ASN unknown)"
    )
    p.add_argument("--prices", help="price CSV (country,usd_per_segment); default: shipped")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the reports as JSON")
    out.add_argument("--markdown", action="store_true", help="print the README tables")
    p.add_argument(
        "--write-geoip",
        metavar="DIR",
        help="only write GeoIP databases describing the simulated address pools, and a "
        "settings snippet (DIR/geoip.yaml) to start a gateway with; simulates nothing",
    )
    p.set_defaults(func=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    from gateway.errors import ConfigError
    from gateway.logs import configure_logging
    from gateway.redisproc import RedisNotInstalled

    if args.write_geoip:
        return write_geoip(Path(args.write_geoip))
    # The gateway runs in this process: its one line per request would drown the report.
    configure_logging("error", "json")
    try:
        reports = asyncio.run(simulate(args))
    except (SimulateError, ValueError, RedisNotInstalled, RuntimeError) as exc:
        print(f"smsguard simulate: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([r.as_json() for r in reports], indent=2))
    elif args.markdown:
        from gateway.simulate.report import markdown

        print(markdown(reports))
    else:
        print("\n\n".join(r.as_text() for r in reports))
    return 0 if all(r.users.total or r.attack.total for r in reports) else 1


def write_geoip(directory: Path) -> int:
    from gateway.simulate.geoipdb import settings_snippet, write_databases

    try:
        paths = write_databases(directory)
    except (RuntimeError, OSError) as exc:
        print(f"smsguard simulate: {exc}", file=sys.stderr)
        return 2
    snippet = directory / "geoip.yaml"
    snippet.write_text(settings_snippet(paths))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    print(f"start the gateway with them: smsguard dev --config {snippet}")
    return 0


async def simulate(args: argparse.Namespace) -> list[RunReport]:
    """Every scenario x seed asked for, each on a fresh gateway: the whole command."""
    from gateway.prices import load_price_csv, shipped_prices
    from gateway.simulate.generate import SCENARIO_NAMES, ScenarioConfig
    from gateway.simulate.harness import Harness

    scenarios = _names(args.scenarios) if args.scenarios else list(SCENARIO_NAMES)
    seeds = _seeds(args.seeds)
    if args.legit_per_hour > 5000 or args.attack_scale > 5 or args.warmup_hours > 48:
        raise SimulateError("at most --legit-per-hour 5000, --attack-scale 5, --warmup-hours 48")
    base: dict[str, Any] = {}
    prices = load_price_csv(Path(args.prices)) if args.prices else shipped_prices()
    if args.config:
        from gateway.cli import load_or_exit

        settings = load_or_exit(args.config)
        base = settings.model_dump(mode="json", exclude_defaults=True)
        prices = prices.with_settings(settings.prices)
        rules = Path(args.rules) if args.rules else settings.rules.path
    else:
        rules = Path(args.rules or "rules")
    if not rules.exists():
        raise SimulateError(f"{rules}: no such rule folder (run from the project or pass --rules)")
    configs = [
        ScenarioConfig(
            scenario=name,
            seed=seed,
            legit_per_hour=args.legit_per_hour,
            warmup_s=args.warmup_hours * 3600,
            attack_scale=args.attack_scale,
            colluding_rate=args.colluding_rate,
            legit_countries=_country_weights(args.countries),
        )
        for name in scenarios
        for seed in seeds
    ]
    with Harness(rules=rules, base=base, geoip=not args.no_geoip) as harness:
        return [await play(harness, config, prices, args.shape) for config in configs]


async def play(
    harness: Harness,
    config: ScenarioConfig,
    prices: PriceTable,
    shape: Shape = "action",
    deliver: Deliver | None = None,
) -> RunReport:
    """Plan one scenario and seed, play it on a fresh gateway, report. Completions go to
    `deliver` when given, else by HTTP to the gateway's log-stream endpoint."""
    import aiohttp

    from gateway.simulate.auth0logs import HttpDelivery, LogStream
    from gateway.simulate.generate import generate
    from gateway.simulate.report import build_report

    planned = generate(config)
    started = time.monotonic()
    async with harness.gateway() as gateway, aiohttp.ClientSession() as session:
        # Without the feedback settings there is no endpoint: the 404 says so in the report.
        authorization = gateway.log_stream_authorization or "Bearer none"
        http = HttpDelivery(session, gateway.url, authorization)
        stream = LogStream(deliver or http)
        simulator = gateway.simulator(
            session, stream, shape=shape, run_id=f"{config.scenario}-{config.seed}"
        )
        results = await simulator.run(planned)
    report = build_report(config.scenario, config.seed, results, prices)
    report.completions = {
        "events": stream.events,
        "delivered": stream.delivered,
        "note": stream.note,
        "endpoint_answers": dict(http.answers),
    }
    report.meta = {
        "requests": len(results),
        "simulated_hours": round(config.duration_s / 3600, 2),
        "elapsed_s": round(time.monotonic() - started, 1),
        "legit_per_hour": config.legit_per_hour,
        "attack_scale": config.attack_scale,
        "colluding_rate": config.colluding_rate,
        "prices": prices.source,
    }
    return report


def _names(text: str) -> list[str]:
    from gateway.simulate.generate import SCENARIO_NAMES

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIO_NAMES]
    if unknown or not names:
        raise SimulateError(
            f"--scenarios: unknown {', '.join(unknown) or '(none)'}; known: "
            + ", ".join(SCENARIO_NAMES)
        )
    return names


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise SimulateError(f"--seeds: {text!r} is not a comma-separated list of numbers") from None
    if not seeds:
        raise SimulateError("--seeds: at least one seed")
    return seeds


def _country_weights(text: str | None) -> tuple[tuple[str, int], ...]:
    if not text:
        return ()
    pairs: list[tuple[str, int]] = []
    for item in text.split(","):
        country, _, weight = item.strip().partition(":")
        try:
            pairs.append((country.strip().upper(), int(weight or "1")))
        except ValueError:
            raise SimulateError(f"--countries: {item!r} is not COUNTRY[:WEIGHT]") from None
    return tuple(pairs)
