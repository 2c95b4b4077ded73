"""Prometheus metrics: one registry per app (so tests and workers do not share globals).

Every stage adds its instruments here, so `GET /metrics` and the README list them in one place.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "smsguard_requests", "POST /sms requests by outcome", ["outcome"], registry=r
        )
        self.request_latency = Histogram(
            "smsguard_request_seconds",
            "POST /sms handling time",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "smsguard_decisions",
            "Policy decisions by action and rule",
            ["action", "rule"],
            registry=r,
        )
        self.shadow_hits = Counter(
            "smsguard_shadow_hits",
            "Shadow rules that matched (would have acted)",
            ["rule", "action"],
            registry=r,
        )
        self.provider_latency = Histogram(
            "smsguard_provider_seconds",
            "Provider call time by provider and result",
            ["provider", "result"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.provider_errors = Counter(
            "smsguard_provider_errors",
            "Provider failures by provider and kind",
            ["provider", "kind"],
            registry=r,
        )
        self.circuit_state = Gauge(
            "smsguard_circuit_state",
            "Provider circuit: 0 closed, 1 half-open, 2 open",
            ["provider"],
            registry=r,
        )
        self.delivery_status = Counter(
            "smsguard_delivery_status",
            "Delivery callbacks by provider and status",
            ["provider", "status"],
            registry=r,
        )
        self.rules_reloads = Counter(
            "smsguard_rules_reloads",
            "Rule reloads by result (ok, refused)",
            ["result"],
            registry=r,
        )
        self.shed = Counter(
            "smsguard_shed",
            "POST /sms answered 503 before any work: the worker was overloaded, by reason",
            ["reason"],
            registry=r,
        )
        self.redis_fallbacks = Counter(
            "smsguard_redis_fallbacks",
            "Velocity checks decided without Redis, by mode",
            ["mode"],
            registry=r,
        )
        self.events_dropped = Counter(
            "smsguard_events_dropped",
            "Decision events not recorded (buffer full or Redis down)",
            registry=r,
        )
        self.storage_warnings = Gauge(
            "smsguard_storage_unsafe",
            "1 when a Redis holding durable records may lose them",
            ["store"],
            registry=r,
        )
        self.alerts = Counter(
            "smsguard_alerts",
            "Alert messages by notifier and result (sent, failed, dropped, rate_limited)",
            ["notifier", "result"],
            registry=r,
        )
        self.alert_incidents = Counter(
            "smsguard_alert_incidents",
            "Incidents opened (alerted once across replicas) by severity",
            ["severity"],
            registry=r,
        )
        self.feedback_records = Counter(
            "smsguard_feedback_records",
            "Completion feedback records by source and result "
            "(accepted, ignored, duplicate, rejected)",
            ["source", "result"],
            registry=r,
        )
        self.feedback_dropped = Counter(
            "smsguard_feedback_dropped",
            "Feedback writes not made (queue full)",
            registry=r,
        )
        self.spend = Counter(
            "smsguard_spend_micros",
            "Money spent on sent messages, in micro-units of the price currency (1e-6)",
            ["country", "route", "currency"],
            registry=r,
        )
        self.budget_used = Gauge(
            "smsguard_budget_used_ratio",
            "Share of a budget rule's current period spent (1 = reached), by rule",
            ["rule"],
            registry=r,
        )
        self.auto_blocks = Counter(
            "smsguard_auto_blocks",
            "Destinations blocked automatically (conversion collapsed), by auto_blocks entry and "
            "mode (enforce, shadow)",
            ["rule", "mode"],
            registry=r,
        )
        self.pin_attempts = Counter(
            "smsguard_pin_attempts", "PIN verifications by result", ["result"], registry=r
        )


async def metrics_handler(request: web.Request) -> web.Response:
    from gateway.appkeys import METRICS

    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
