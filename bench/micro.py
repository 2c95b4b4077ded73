"""Per-stage CPU of the message path, measured in one process without a profiler's overhead.

Each stage of POST /sms is called in a loop on the benchmark's own bodies (cold: a distinct number
and IP per call, as on the clean path; warm: the same body again, as in an attack) and timed with
perf_counter. Velocity counters use the in-process store (the Redis round trip is measured by the
harness, not here). Run: python -m bench.micro RULES_DIR GEOIP_DIR BODIES_FILE SECRET TOKEN
Prints one JSON object: microseconds per call by stage.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPEATS = 5


def _per_call(
    fn: Callable[[int], object], n: int, before: Callable[[], object] | None = None
) -> float:
    """Best of REPEATS loops of n calls (the machine is shared: the minimum is the cost)."""
    best = float("inf")
    for _ in range(REPEATS):
        if before is not None:
            before()
        started = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, time.perf_counter() - started)
    return round(best / n * 1e6, 1)


def main() -> None:
    import structlog
    from redis.asyncio import Redis

    from gateway.clock import SystemClock
    from gateway.events import EventRecorder, Outcome
    from gateway.geoip import GeoIp
    from gateway.intake import PayloadParser, TokenVerifier
    from gateway.logs import PhoneHasher, configure_logging, get_logger, mask_phone
    from gateway.metrics import Metrics
    from gateway.policy.engine import RuleEngine
    from gateway.policy.loader import load_rules
    from gateway.settings import (
        Auth0Settings,
        EventsSettings,
        GeoipSettings,
        IntakeSettings,
    )
    from gateway.signals import SignalExtractor, ip_facts, phone_facts
    from gateway.velocity import LocalVelocity

    rules_dir, geoip_dir, bodies_file, secret, token = sys.argv[1:6]
    n = int(os.environ.get("BENCH_MICRO_N", "3000"))
    raw = [line.encode() for line in Path(bodies_file).read_text().splitlines()[: n * 2]]
    geo = Path(geoip_dir)
    out: dict[str, Any] = {"calls": n}

    auth0 = Auth0Settings(gateway_secret=secret)  # type: ignore[arg-type]
    verifier = TokenVerifier(auth0, SystemClock())
    header = f"Bearer {token}"
    out["jwt_verify"] = _per_call(lambda i: verifier.verify(header), n)

    parser = PayloadParser(IntakeSettings())
    out["json_parse_and_phone_normalise"] = _per_call(
        lambda i: parser.parse(raw[i], request_id="r", received_at=0.0), n
    )
    out["json_loads_only"] = _per_call(lambda i: json.loads(raw[i]), n)
    smses = [
        parser.parse(b, request_id=f"r{i}", received_at=time.time()) for i, b in enumerate(raw)
    ]

    geoip = GeoIp.open(
        GeoipSettings(
            country_db=geo / "country.mmdb",
            asn_db=geo / "asn.mmdb",
            anonymous_db=geo / "anonymous.mmdb",
        )
    )
    extractor = SignalExtractor(geoip, ["Your verification code is: @@password@@"])

    def clear() -> None:
        phone_facts.cache_clear()
        ip_facts.cache_clear()
        extractor.geoip = GeoIp.open(
            GeoipSettings(
                country_db=geo / "country.mmdb",
                asn_db=geo / "asn.mmdb",
                anonymous_db=geo / "anonymous.mmdb",
            )
        )

    out["signals_cold"] = _per_call(lambda i: extractor.compute(smses[i]), n, clear)
    out["signals_warm"] = _per_call(lambda i: extractor.compute(smses[i]), n)
    out["phone_facts_cold"] = _per_call(
        lambda i: phone_facts(smses[i].recipient), n, phone_facts.cache_clear
    )
    fresh: list[GeoIp] = []

    def fresh_country() -> None:
        fresh[:] = [GeoIp.open(GeoipSettings(country_db=geo / "country.mmdb"))]

    out["geoip_country_cold"] = _per_call(
        lambda i: fresh[0].lookup(smses[i].ip or ""), n, fresh_country
    )
    signals = [extractor.compute(s) for s in smses]

    rules = load_rules(Path(rules_dir))
    engine = RuleEngine(rules, LocalVelocity(), clock=SystemClock())

    async def decide_all() -> float:
        best = float("inf")
        for _ in range(REPEATS):
            started = time.perf_counter()
            for i in range(n):
                await engine.decide(smses[i], signals[i])
            best = min(best, time.perf_counter() - started)
        return round(best / n * 1e6, 1)

    out["policy_decide_local_counters"] = asyncio.run(decide_all())
    decisions = [asyncio.run(engine.decide(smses[i], signals[i])) for i in range(50)]

    async def record_all() -> float:
        recorder = EventRecorder(
            Redis(),
            EventsSettings(buffer=n * 2),
            clock=SystemClock(),
            metrics=Metrics(),
            hasher=PhoneHasher(b"k"),
        )
        best = float("inf")
        for _ in range(REPEATS):
            recorder._buffer.clear()
            started = time.perf_counter()
            for i in range(n):
                recorder.record(
                    smses[i],
                    signals[i],
                    decisions[i % 50],
                    Outcome("sent", 200, provider="twilio", latency_ms=1.0),
                )
            best = min(best, time.perf_counter() - started)
        return round(best / n * 1e6, 1)

    out["events_record"] = asyncio.run(record_all())

    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    configure_logging("info", "json")
    log = get_logger("gateway.http")
    hasher = PhoneHasher(b"k")

    def log_line(i: int) -> None:
        sms = smses[i]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id="0123456789abcdef")
        log.info(
            "request",
            method="POST",
            path="/sms",
            status=200,
            latency_ms=1.23,
            recipient=mask_phone(sms.recipient),
            phone_hash=hasher(sms.recipient),
            shape=sms.shape,
            country="GB",
            number_type="MOBILE",
            ip=sms.ip,
            asn=64500,
            action="allow",
            rule=None,
            provider="twilio",
            attempts=1,
            outcome="sent",
        )

    out["request_log_line"] = _per_call(log_line, n)
    metrics = Metrics()
    out["metrics_3_updates"] = _per_call(
        lambda i: (
            metrics.requests.labels("sent").inc(),
            metrics.request_latency.observe(0.001),
            metrics.decisions.labels("allow", "-").inc(),
        ),
        n,
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
