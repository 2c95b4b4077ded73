"""`smsguard simulate`: labelled legitimate and attack traffic against a running gateway.

    generate (seeded timeline) -> runner (real HTTP to POST /sms, sandbox inbox to tell sent from
    dropped) -> report (per scenario; attack/legit blocked %; money at per-country prices)

Only loopback targets unless --allow-remote: the traffic is an attack by design.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from yarl import URL

from gateway.errors import SmsGuardError

if TYPE_CHECKING:
    import aiohttp

    from gateway.simulate.report import Report

DEFAULT_URL = "http://127.0.0.1:8080"


class SimulateError(SmsGuardError):
    """A problem with the simulator's own inputs (printed, exit 2)."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `smsguard simulate` to the CLI."""
    p = sub.add_parser(
        "simulate",
        help="play labelled legitimate and attack traffic against a running gateway",
        description=(
            "Sends seeded, labelled traffic (real users and four attack shapes) to a running "
            "gateway's POST /sms and reports attack blocked %, legit blocked % and money saved. "
            "Use a gateway with the sandbox provider exposed (`smsguard dev`), and a fresh one "
            "for comparable figures: velocity counters persist between runs."
        ),
    )
    p.add_argument("--url", default=DEFAULT_URL, help=f"gateway base URL (default {DEFAULT_URL})")
    p.add_argument("--secret", help="auth0.gateway_secret (else --config, env, or --data-dir)")
    p.add_argument("--config", help="settings YAML to read auth0.* and prices from")
    p.add_argument(
        "--data-dir", default=".run", help="`smsguard dev` data folder (its dev-secrets.json)"
    )
    p.add_argument("--seed", type=int, default=1, help="same seed, same traffic (default 1)")
    p.add_argument("--legit", type=int, default=300, help="legitimate users (default 300)")
    p.add_argument("--attack-scale", type=float, default=1.0, help="multiplies every attack's size")
    p.add_argument(
        "--countries",
        help="where the legitimate users are, as weights: US:30,GB:10,DE:5 (default: a global "
        "consumer app in 21 countries)",
    )
    p.add_argument(
        "--scenarios", default=None, help="comma-separated subset (legit,prefix-burst,...)"
    )
    p.add_argument(
        "--span", type=float, default=240.0, help="seconds the timeline is spread over (240)"
    )
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="play the timeline N times faster (denser than real: velocity rules fire sooner)",
    )
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight (1-64)")
    p.add_argument(
        "--duration-limit", type=float, default=600.0, help="stop sending after this many seconds"
    )
    p.add_argument(
        "--shape",
        choices=("action", "legacy"),
        default="action",
        help="Auth0 payload shape (default: the Action's, which carries req.geoip)",
    )
    p.add_argument("--prices", help="price CSV (country,usd_per_segment); default: shipped")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--no-verify", action="store_true", help="do not read the sandbox inbox after 200s"
    )
    p.add_argument(
        "--allow-remote", action="store_true", help="allow a target that is not loopback"
    )
    p.add_argument(
        "--write-geoip",
        metavar="DIR",
        help="only write GeoIP databases describing the simulated address pools, and a "
        "settings snippet (DIR/geoip.yaml) to start the gateway with; sends nothing",
    )
    p.set_defaults(func=cmd_simulate)


@dataclass(frozen=True)
class Credentials:
    key: bytes
    audience: str = "urn:MySmsGateway"
    subject: str = "urn:Auth0"


def resolve_credentials(args: argparse.Namespace, environ: dict[str, str]) -> Credentials:
    """--secret, else the settings file's auth0 section, else the env, else `make run`'s file."""
    if args.secret:
        return Credentials(args.secret.encode())
    if args.config:
        from gateway.b64 import b64url_decode
        from gateway.cli import load_or_exit

        auth0 = load_or_exit(args.config).auth0
        if auth0.gateway_secret is None:
            raise SimulateError(f"{args.config}: auth0.gateway_secret is not set")
        value = auth0.gateway_secret.get_secret_value()
        key = b64url_decode(value) if auth0.secret_base64_encoded else value.encode()
        return Credentials(key, auth0.audience, auth0.subject)
    if environ.get("SMSGUARD_AUTH0__GATEWAY_SECRET"):
        return Credentials(environ["SMSGUARD_AUTH0__GATEWAY_SECRET"].encode())
    dev = Path(args.data_dir) / "dev-secrets.json"
    if dev.exists():
        return Credentials(json.loads(dev.read_text())["gateway_secret"].encode())
    raise SimulateError(
        "no gateway secret: pass --secret, --config FILE, set SMSGUARD_AUTH0__GATEWAY_SECRET, "
        f"or run `smsguard dev` (its secret is in {dev})"
    )


def cmd_simulate(args: argparse.Namespace) -> int:
    from gateway.errors import ConfigError

    if args.write_geoip:
        return write_geoip(Path(args.write_geoip))
    try:
        report = asyncio.run(simulate(args, dict(os.environ)))
    except (SimulateError, ValueError) as exc:
        print(f"smsguard simulate: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    print(json.dumps(report.as_json(), indent=2) if args.json else report.as_text())
    errors = report.meta.get("errors") or {}
    if errors and not args.json:
        print("errors: " + "; ".join(f"{n} x {what}" for what, n in errors.items()))
    answered = report.total("attack").answered + report.total("legit").answered
    return 0 if answered else 1


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


async def simulate(args: argparse.Namespace, environ: dict[str, str]) -> Report:
    """Generate, send, report: the whole command, from parsed arguments."""
    import aiohttp

    from gateway.clock import SystemClock
    from gateway.prices import load_price_csv, shipped_prices
    from gateway.simulate.generate import SCENARIOS, ScenarioConfig, generate
    from gateway.simulate.report import build_report
    from gateway.simulate.runner import RunOptions, Simulator, TokenSigner, check_loopback

    url = URL(args.url.rstrip("/"))
    if not args.allow_remote:
        check_loopback(url)
    if not 1 <= args.concurrency <= 64:
        raise SimulateError("--concurrency must be 1 to 64 (the sandbox inbox keeps 200)")
    if not 0 < args.duration_limit <= 3600:
        raise SimulateError("--duration-limit must be more than 0 and at most 3600 seconds")
    if not 0 < args.speed <= 1000:
        raise SimulateError("--speed must be more than 0 and at most 1000")
    if args.legit > 10_000 or args.attack_scale > 20:
        raise SimulateError("at most --legit 10000 and --attack-scale 20")
    credentials = resolve_credentials(args, environ)
    prices = load_price_csv(Path(args.prices)) if args.prices else shipped_prices()
    if args.config:
        from gateway.cli import load_or_exit

        prices = prices.with_settings(load_or_exit(args.config).prices)
    scenarios = tuple(s.strip() for s in args.scenarios.split(",")) if args.scenarios else SCENARIOS
    config = ScenarioConfig(
        legit_countries=_country_weights(args.countries),
        seed=args.seed,
        legit=args.legit,
        attack_scale=args.attack_scale,
        span_s=args.span,
        scenarios=scenarios,
    )
    planned = generate(config)
    options = RunOptions(
        concurrency=args.concurrency,
        duration_limit_s=args.duration_limit,
        speed=args.speed,
        shape=args.shape,
        run_id=secrets.token_hex(4),
        verify=not args.no_verify,
    )
    signer = TokenSigner(
        credentials.key, audience=credentials.audience, subject=credentials.subject
    )
    clock = SystemClock()
    async with aiohttp.ClientSession() as session:
        rules = await _rules_version(session, url)
        simulator = Simulator(session, url, signer, options, clock)
        started = clock.monotonic()
        results = await simulator.run(planned)
        elapsed = clock.monotonic() - started
    report = build_report(results, prices, verified=simulator.verified, note=simulator.sandbox_note)
    errors = Counter(
        f"{r.status or ''} {r.detail or ''}".strip() for r in results if r.outcome == "error"
    )
    report.meta = {
        "seed": args.seed,
        "legit": args.legit,
        "attack_scale": args.attack_scale,
        "span_s": args.span,
        "speed": args.speed,
        "shape": args.shape,
        "elapsed_s": round(elapsed, 2),
        "prices": prices.source,
        "errors": dict(errors.most_common(5)),
        "rules": rules,
    }
    return report


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


async def _rules_version(session: aiohttp.ClientSession, url: URL) -> str | None:
    """Check the gateway answers; return its rule set as /readyz describes it (for the record)."""
    import aiohttp

    try:
        async with session.get(url / "readyz", timeout=aiohttp.ClientTimeout(total=5)) as resp:
            data = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SimulateError(f"cannot reach the gateway at {url}: {exc}") from None
    except ValueError:
        return None
    checks = data.get("checks") if isinstance(data, dict) else None
    rules = checks.get("rules") if isinstance(checks, dict) else None
    detail = rules.get("detail") if isinstance(rules, dict) else None
    # "version 1797e7748a96, 22 rules, loaded_at ...; last reload refused: ..." -> the first two
    return ", ".join(str(detail).split(";")[0].split(", ")[:2]) if detail else None
