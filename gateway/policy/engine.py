"""The rule engine: a RuleSet plus a velocity store -> a Decision, and hot reload of the rule set.

Evaluation, for one request:
  1. Walk the rules top to bottom evaluating their conditions (pure, in-process). A matching rule
     without velocity and with a final action (allow/block/drop, not shadow) ends the walk: nothing
     after it can run. Matching velocity rules before that point become counter checks.
  2. All counter checks go to the store in ONE call (one EVALSHA, batched with the other requests of
     the same event-loop tick). The script runs them in rule order and stops counting at the first
     final rule over its limit, so a refused request never consumes a later rule's budget.
  3. Walk the matched rules again in order: the first final action wins; tag rules add tags; shadow
     rules record "would have <action>"; the default action closes the set.
The full trace (every rule, matched or not and why) is built only with `explain=True`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.alerts.model import Alert, AlertSink, Severity
from gateway.clock import Clock
from gateway.errors import ConfigError, Location, Problem
from gateway.feedback.keys import FeedbackKeys
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.models import Action, Decision, ShadowHit, SmsRequest, TraceStep
from gateway.policy.budget import BudgetHit, BudgetPricing
from gateway.policy.loader import Rule, RuleSet, format_duration, load_rules
from gateway.policy.staged import compile_guard, residual
from gateway.policy.statereads import StatePlan
from gateway.policy.summary import PolicySummary, RuleInfo, describe_rules
from gateway.settings import PricesSettings
from gateway.signals import Signals
from gateway.signals.outcomes import CONFIGURED, VERIFIED
from gateway.spend.rates import load_rates
from gateway.velocity import (
    CounterCheck,
    CounterResult,
    HitOutcome,
    LocalVelocity,
    StateReads,
    StateValue,
    VelocityStore,
)

if TYPE_CHECKING:
    from gateway.overrides import Overrides

log = get_logger("gateway.policy")

_ACTIONS = {"allow": Action.ALLOW, "block": Action.BLOCK, "drop": Action.DROP}


@dataclass(frozen=True)
class _Reservation:
    decision: Decision  # held so its id() cannot be reused while the reservation waits
    keys: tuple[str, ...]
    token: str


class RuleEngine:
    """Decides with the current rule set; `replace`/`reload` swap the set atomically.

    Construct with a loaded RuleSet (`load_rules(path)`), a VelocityStore (`RedisVelocity` in the
    gateway, `LocalVelocity` in `rules test`) and the clock. `path` enables `reload()`. In the
    gateway, `overrides` (the dashboard's manual blocks and allows) decide before the rules.
    """

    def __init__(
        self,
        rules: RuleSet,
        store: VelocityStore,
        *,
        clock: Clock,
        metrics: Metrics | None = None,
        path: Path | None = None,
        max_reservations: int = 100_000,
        loader: Callable[[Path], RuleSet] = load_rules,
        overrides: Overrides | None = None,
        alerts: AlertSink | None = None,
        pricing: BudgetPricing | None = None,
        feedback_configured: bool = False,
    ) -> None:
        self.store = store
        self.alerts = alerts
        # Prices and routes for `budget:` rules; by default the shipped prices, one route.
        self.pricing = pricing or BudgetPricing(load_rates(PricesSettings()), lambda _c: "default")
        # Completion feedback is connected: outcome signals are read in the decision script
        # (else they are unknown, and rules can test `feedback.configured: false`).
        self.feedback_configured = feedback_configured
        self.feedback_keys = FeedbackKeys(store.keys)
        # Told of every message sent (the adaptive watcher's candidates); cheap, synchronous.
        self.on_sent: Callable[[Signals], None] | None = None
        self.overrides = overrides
        self.clock = clock
        self.metrics = metrics
        self.path = path
        self._rules = rules
        self.loaded_at = clock.time()
        self.last_error: ConfigError | None = None
        self.last_error_at: float | None = None
        # `count: sent` reservations of allowed decisions, until `settle`: keyed by the identity of
        # the Decision object (internal, per decision), never by the client's request id, which
        # two in-flight requests may share.
        self._reservations: OrderedDict[int, _Reservation] = OrderedDict()
        self._max_reservations = max_reservations
        self._reload_lock = asyncio.Lock()
        self._loader = loader

    # ------------------------------------------------------------------ metadata for the dashboard

    @property
    def rules(self) -> RuleSet:
        return self._rules

    @property
    def version(self) -> str:
        return self._rules.version

    @property
    def files(self) -> tuple[str, ...]:
        return self._rules.files

    def rule_info(self) -> list[RuleInfo]:
        return describe_rules(self._rules, self.pricing.rates)

    def summary(self) -> PolicySummary:
        """The running set as the dashboard shows it (typed: no reading attributes by name)."""
        return PolicySummary(
            version=self.version,
            loaded_at=self.loaded_at,
            files=self.files,
            default=self._rules.default.action,
            rules=self.rule_info(),
            last_error=str(self.last_error) if self.last_error is not None else None,
            last_error_at=self.last_error_at,
        )

    # ------------------------------------------------------------------------------- reloading

    def replace(self, rules: RuleSet) -> None:
        """Swap in a validated rule set (a single reference assignment: requests see old or new)."""
        self._rules = rules
        self.loaded_at = self.clock.time()
        self.last_error = None
        self.last_error_at = None

    async def reload(self) -> bool:
        """Load `path` in a thread, validate it completely, swap it in; refuse it when invalid."""
        if self.path is None:
            return False
        async with self._reload_lock:
            try:
                rules = await asyncio.to_thread(self._loader, self.path)
            except Exception as exc:  # ANY failure refuses the new version
                error = (
                    exc
                    if isinstance(exc, ConfigError)
                    else ConfigError(
                        [
                            Problem(
                                Location(str(self.path)),
                                f"cannot load the rules: {type(exc).__name__}: {exc}",
                            )
                        ]
                    )
                )
                self.last_error = error
                self.last_error_at = self.clock.time()
                if self.metrics:
                    self.metrics.rules_reloads.labels(result="refused").inc()
                log.error(
                    "rules_reload_refused",
                    version=self.version,
                    problems=len(error.problems),
                    errors=[str(p) for p in error.problems[:50]],
                )
                if self.alerts is not None:
                    self.alerts.fire(refused_alert(error, self.version, self.clock.time()))
                return False
            if rules.version == self.version and self.last_error is None:
                return True  # nothing changed (an editor touched a file)
            self.replace(rules)
            if self.alerts is not None:
                self.alerts.clear(RELOAD_REFUSED)
            if self.metrics:
                self.metrics.rules_reloads.labels(result="ok").inc()
            log.info("rules_reloaded", version=rules.version, rules=len(rules.rules))
            return True

    # -------------------------------------------------------------------------------- deciding

    async def decide(self, sms: SmsRequest, signals: Signals, *, explain: bool = False) -> Decision:
        """Decide one request: a matching override first, else the rules (their counters are
        checked and updated in one call)."""
        if self.overrides is not None:
            manual = self.overrides.decide(signals)
            if manual is not None:
                return manual
        return await self._evaluate(sms, signals, explain=explain, write=True)

    async def explain(self, sms: SmsRequest, signals: Signals) -> Decision:
        """Evaluate with the full trace, reading counters without writing them."""
        return await self._evaluate(sms, signals, explain=True, write=False)

    async def settle(
        self, sms: SmsRequest, signals: Signals, decision: Decision, sent: bool
    ) -> None:
        """After the send attempt: give back `count: sent` reservations of a message not sent."""
        if sent and self.on_sent is not None:
            self.on_sent(signals)
        reservation = self._reservations.pop(id(decision), None)
        if reservation is not None and reservation.decision is not decision:
            self._reservations[id(decision)] = reservation  # not ours (cannot happen: held)
            return
        if reservation is not None and not sent:
            await self.store.release(reservation.keys, reservation.token)

    async def _evaluate(
        self, sms: SmsRequest, signals: Signals, *, explain: bool, write: bool
    ) -> Decision:
        rs = self._rules
        trace: list[TraceStep] = []
        matched: list[tuple[Rule, CounterCheck | None, list[str] | None]] = []
        checks: list[CounterCheck] = []
        budgets: dict[str, BudgetHit] = {}
        stopped_by: Rule | None = None
        now = self.clock.time()
        plan = rs.state
        reads: StateReads | None = None
        if plan is not None:
            configured = signals.state.get(CONFIGURED, self.feedback_configured)
            signals = signals.with_state({CONFIGURED: configured})
            if configured is True:
                # Read in the script (Redis), or given by the caller (rule tests, local counters)
                reads = (
                    plan.given(signals)
                    if isinstance(self.store, LocalVelocity)
                    else plan.reads(signals, self.feedback_keys)
                )
        for rule in rs.rules:
            if stopped_by is not None:
                if explain:
                    trace.append(
                        TraceStep(rule.id, False, f"not reached ({stopped_by.id} decided)")
                    )
                continue
            cond = rule.condition
            guard = ""
            if cond is not None and rule.reads and reads is not None:
                left = residual(cond, signals)
                if left is False:
                    if explain:
                        trace.append(TraceStep(rule.id, False, cond.explain(signals)))
                    continue
                if not isinstance(left, bool) and plan is not None:
                    guard = compile_guard(left, plan.index.__getitem__)
            elif cond is not None and not cond.matches(signals):
                if explain:
                    trace.append(TraceStep(rule.id, False, cond.explain(signals)))
                continue
            vel = rule.velocity
            if rule.budget is not None:
                hit = rule.budget.hit(
                    rule.id, rule.final, sms.body, signals, now, self.store.keys, self.pricing
                )
                if hit is None:
                    if explain:
                        why = "exempt or its key unknown: not counted"
                        trace.append(TraceStep(rule.id, False, f"budget: {why}"))
                    continue
                verified = plan.index.get(VERIFIED) if plan is not None and reads else None
                if rule.budget.exempt_verified and verified is not None:
                    # the marker is read in the script: the exemption is decided there
                    c = hit.check
                    guarded = CounterCheck(
                        c.key, (), c.final, reserve=True, longest=c.longest, spec=c.spec,
                        guard=f"v{verified} #1.0 = !",
                    )  # fmt: skip
                    hit = dataclasses.replace(hit, check=guarded)
                budgets[rule.id] = hit
                checks.append(hit.check)
                matched.append((rule, hit.check, [hit.value]))
                if explain:
                    trace.append(TraceStep(rule.id, False, "pending"))  # filled in below
                continue
            if vel is not None and any(vel.learned) and reads is None:
                if explain:
                    trace.append(
                        TraceStep(rule.id, False, "learned limit: no feedback, not counted")
                    )
                continue
            if vel is None and guard:
                # Decided by the state read in the script: a refusal there stops the counters.
                check = CounterCheck("", (), rule.final, guard=guard)
                checks.append(check)
                matched.append((rule, check, None))
                if explain:
                    trace.append(TraceStep(rule.id, False, "pending"))
                continue
            if vel is None:
                matched.append((rule, None, None))
                if explain:
                    trace.append(TraceStep(rule.id, True, _why(rule, signals)))
                if rule.final:
                    stopped_by = rule
                continue
            values = vel.values(signals)
            if values is None:
                if explain:
                    trace.append(
                        TraceStep(rule.id, False, "velocity key signal unknown: not counted")
                    )
                continue
            check = CounterCheck(
                self.store.keys.key(rule.id, values),
                vel.windows,
                rule.final,
                reserve=vel.count == "sent",
                longest=rule.longest_window,
                spec=rule.counter_spec,
                guard=guard,
            )
            checks.append(check)
            matched.append((rule, check, values))
            if explain:
                trace.append(TraceStep(rule.id, False, "pending"))  # filled in below

        outcome = HitOutcome(())
        token = ""
        if checks or reads is not None:
            if write:
                token = os.urandom(8).hex()
                outcome = await self.store.hit(checks, token, now, reads=reads)
            else:
                outcome = await self.store.peek(checks, now, reads=reads)
            if outcome.fallback and self.metrics:
                self.metrics.redis_fallbacks.labels(mode=outcome.fallback).inc()
        if plan is not None and reads is not None:
            signals = signals.with_state(plan.named(outcome.state))

        shadow: list[ShadowHit] = []
        tags: list[str] = []
        reserved: list[str] = []
        decision: Decision | None = None
        decided_by: Rule | None = None
        j = 0
        for rule, maybe_check, values in matched:
            if maybe_check is not None:
                check = maybe_check
                result = outcome.results[j]
                j += 1
                if result is None:
                    detail = "not reached (an earlier velocity rule refused)"
                    _fill(trace, rule.id, False, detail, explain)
                    continue
                if check.guard and not (result.exceeded or result.counts):
                    # its condition on the state read in the script did not hold: not counted
                    why = rule.condition.explain(signals) if rule.condition else "exempt"
                    _fill(trace, rule.id, False, why, explain)
                    continue
                hit = budgets.get(rule.id)
                if hit is not None:
                    spent = result.counts[0] if result.counts else 0
                    if not result.exceeded:
                        if write:
                            reserved.append(hit.handle)
                            if self.pricing.on_use is not None:
                                self.pricing.on_use(hit.use(spent), now)
                        _fill(trace, rule.id, False, f"within budget: {hit.show(spent)}", explain)
                        continue
                    reason = hit.reason(spent)
                    if write and self.pricing.on_use is not None and not outcome.fallback:
                        self.pricing.on_use(hit.use(spent, refused=True), now)
                    if outcome.fallback == "block":
                        reason = f"budget store unavailable (redis.on_error=block): {rule.id}"
                    _fill(trace, rule.id, True, f"budget reached: {hit.show(spent)}", explain)
                elif not check.key:  # a rule without counters, its condition held on the state
                    _fill(trace, rule.id, True, _why(rule, signals), explain)
                    reason = _with_state(rule, signals)
                else:
                    assert values is not None
                    counts = ""
                    if explain:
                        counts = self._counts(rule, values, result)
                        if outcome.fallback:
                            counts += f" [redis unavailable: {outcome.fallback}]"
                    if not result.exceeded:
                        if check.reserve and write:
                            reserved.append(check.key)
                        _fill(trace, rule.id, False, f"under limit: {counts}", explain)
                        continue
                    reason = self._reason(
                        rule, values, result, outcome.fallback, outcome.state, plan
                    )
                    _fill(trace, rule.id, True, f"over limit: {counts}", explain)
            else:
                if rule.reads and reads is not None and not _holds(rule, signals):
                    continue  # (tag or shadow rules over state: decided here, not in the script)
                reason = _with_state(rule, signals) if rule.reads else rule.description
            if decision is not None:
                continue  # explain mode: trace after the deciding rule
            if rule.shadow:
                shadow.append(ShadowHit(rule.id, rule.action, reason))
                continue
            if rule.action == "tag":
                tags.extend(rule.tags)
                continue
            decided_by = rule
            decision = _decide(rule, reason)
            if not explain:
                break
        if decision is None:
            d = rs.default
            decision = Decision(
                _ACTIONS[d.action],
                rule_id=None,
                reason=f"default action ({d.action})",
                status=d.status if d.action == "block" else 200,
            )
            if explain:
                trace.append(TraceStep("default", True, f"no final rule matched: {d.action}"))

        if not explain:
            trace = [TraceStep(decision.rule_id or "default", True, decision.reason)]
            trace += [TraceStep(h.rule_id, True, f"shadow: would have {h.action}") for h in shadow]
        final_decision = Decision(
            decision.action,
            rule_id=decision.rule_id,
            reason=decision.reason,
            status=decision.status,
            shadow=tuple(shadow),
            tags=tuple(dict.fromkeys(tags)),
            trace=tuple(trace),
        )
        if write and token:
            budget_keys = {h.check.key for h in budgets.values()}
            counted = {r.id for r, c, _v in matched if c is not None}
            # A budget is not given back on a timeout: its release subtracts the cost whether or
            # not the late script added it (gateway/spend/counters.py), so it stays counted.
            all_reserve = tuple(c.key for c in checks if c.reserve and c.key not in budget_keys)
            if reserved and decision.action is Action.ALLOW:
                self._reserve(_Reservation(final_decision, tuple(reserved), token))
            elif outcome.fallback and all_reserve:
                # Redis timed out: the script may still run there later and take reservations
                # under this token. The message is not sent: release them all (by token).
                self.store.release_later(all_reserve, token)
            elif reserved and not (decided_by is not None and decided_by.id in counted):
                # Refused by a rule without counters (a velocity refusal already voided the
                # reservations inside the same script call): give them back, batched.
                self.store.release_later(tuple(reserved), token)
        return final_decision

    @staticmethod
    def _counts(rule: Rule, values: list[str], result: CounterResult) -> str:
        assert rule.velocity is not None
        wins = ", ".join(
            f"{c} in {format_duration(w.seconds)} (limit {w.limit})"
            for c, w in zip(result.counts, rule.velocity.windows, strict=True)
        )
        return f"{rule.velocity.describe(values)}: {wins}"

    @staticmethod
    def _reason(
        rule: Rule,
        values: list[str],
        result: CounterResult,
        fallback: str | None,
        state: tuple[StateValue, ...] = (),
        plan: StatePlan | None = None,
    ) -> str:
        vel = rule.velocity
        assert vel is not None
        assert result.over is not None
        window = vel.windows[result.over]
        count = result.counts[result.over]
        verb = "sent" if vel.count == "sent" else "made"
        noun = "" if vel.count == "sent" else " attempts"
        limit = f"limit {window.limit}"
        learned = vel.learned[result.over] if vel.learned else None
        if learned is not None:
            value = state[window.source - 1] if window.source <= len(state) else None
            at = plan.index.get(learned.base, 0) if plan is not None else 0
            base = state[at - 1] if 0 < at <= len(state) else None
            limit = (
                f"learned limit {int(value) if value is not None else window.limit} "
                f"({learned.floor} + {learned.factor:g} x busiest verified day "
                f"{int(base) if base is not None else 0})"
            )
        text = (
            f"{vel.describe(values)} {verb} {count}{noun} in {format_duration(window.seconds)}, "
            f"{limit}"
        )
        if fallback == "block":
            text = f"velocity store unavailable (redis.on_error=block): {rule.id}"
        elif fallback == "local":
            text += " (per-process counters: redis unavailable)"
        return text

    def _reserve(self, reservation: _Reservation) -> None:
        self._reservations[id(reservation.decision)] = reservation
        if len(self._reservations) > self._max_reservations:
            self._reservations.popitem(last=False)  # never settled: keep the count (fail closed)


def _decide(rule: Rule, reason: str) -> Decision:
    action = _ACTIONS[rule.action]
    return Decision(
        action,
        rule_id=rule.id,
        reason=reason,
        status=rule.status if action is Action.BLOCK else 200,
    )


def _holds(rule: Rule, signals: Signals) -> bool:
    return rule.condition is None or rule.condition.matches(signals)


def _with_state(rule: Rule, signals: Signals) -> str:
    """The description with the figures it was decided on ("... (phone.range4.sent.1h=212)")."""
    shown = []
    for name in rule.reads:
        value = signals.state.get(name)
        if isinstance(value, float):
            shown.append(f"{name}={value:.2f}")
        else:
            shown.append(f"{name}={'unknown' if value is None else value}")
    return f"{rule.description} ({', '.join(shown)})"


def _why(rule: Rule, signals: Signals) -> str:
    if rule.condition is None:
        return "no conditions"
    return rule.condition.explain(signals)


def _fill(trace: list[TraceStep], rule_id: str, matched: bool, detail: str, explain: bool) -> None:
    if not explain:
        return
    for i in range(len(trace) - 1, -1, -1):
        if trace[i].rule_id == rule_id:
            trace[i] = TraceStep(rule_id, matched, detail)
            return


RELOAD_REFUSED = "rules:reload-refused"


def refused_alert(error: ConfigError, running: str, now: float) -> Alert:
    """The alert for a refused rule change: the first problem, and what keeps running."""
    first = str(error.problems[0]) if error.problems else "unknown problem"
    more = len(error.problems) - 1
    return Alert(
        RELOAD_REFUSED,
        Severity.WARNING,
        "A rule change was refused",
        f"{first}"
        + (f" (and {more} more)" if more > 0 else "")
        + f"; rule set {running} keeps running",
        now,
        "/dashboard/rules",
        {"problems": len(error.problems), "running_version": running},
    )
