"""The Rules page: the running rule set (the engine's typed summary) with each rule's hits and
shadow "would have" counts over a range, and the deciders that are not rules (overrides)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from aiohttp import web

from gateway.appkeys import CLOCK, POLICY, REDIS
from gateway.dashboard import queries
from gateway.dashboard.auth import Session
from gateway.dashboard.page import render
from gateway.policy.engine import RuleEngine
from gateway.policy.summary import PolicySummary, RuleInfo


@dataclass(frozen=True, slots=True)
class RuleRow:
    """One rule on the Rules page: what the engine says of it, with its counts in the range."""

    rule: RuleInfo
    hits: int
    would: dict[str, int]  # shadow rules: "would have <action>" counts

    def as_json(self) -> dict[str, object]:
        return {**asdict(self.rule), "hits": self.hits, "would": self.would}


@dataclass(frozen=True, slots=True)
class RulesView:
    """What the Rules page and /dashboard/api/rules show."""

    engine: str
    summary: PolicySummary
    rows: list[RuleRow]
    other_hits: list[tuple[str, int]]  # deciders that are not rules (overrides), most hits first
    range: str

    def as_json(self) -> dict[str, object]:
        summary = asdict(self.summary)
        summary["rules"] = [row.as_json() for row in self.rows]
        return {
            "engine": self.engine,
            **summary,
            "other_hits": [{"rule": r, "hits": n} for r, n in self.other_hits],
            "range": self.range,
        }


def rules_view(
    policy: RuleEngine, hits: dict[str, int], shadow: dict[str, int], range_: str
) -> RulesView:
    """The engine's typed summary joined with the decision counts of `range_`."""
    summary = policy.summary()
    would: dict[str, dict[str, int]] = {}
    for key, n in shadow.items():  # "<rule id>|<action>"
        rule_id, action = key.split("|", 1)
        would.setdefault(rule_id, {})[action] = n
    rows = [RuleRow(r, hits.get(r.id, 0), would.get(r.id, {})) for r in summary.rules]
    known = {r.id for r in summary.rules}
    return RulesView(
        engine=type(policy).__name__,
        summary=summary,
        rows=rows,
        other_hits=sorted(((r, n) for r, n in hits.items() if r not in known), key=lambda x: -x[1]),
        range=range_ if range_ in queries.RANGES else "day",
    )


async def _rules(request: web.Request) -> RulesView:
    range_ = request.query.get("range", "day")
    hits, shadow = await queries.rule_counts(request.app[REDIS], range_, request.app[CLOCK].time())
    return rules_view(request.app[POLICY], hits, shadow, range_)


async def rules_page(request: web.Request, session: Session) -> web.StreamResponse:
    context = {"info": await _rules(request), "ranges": list(queries.RANGES)}
    return render("dashboard/rules.html", request, session, context)


async def rules_api(request: web.Request, session: Session) -> web.StreamResponse:
    return web.json_response((await _rules(request)).as_json())
