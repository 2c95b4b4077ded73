"""Refusal aggregation: under an attack, one line per rule per second with a count."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

from gateway.clock import FakeClock
from gateway.logs import get_logger
from gateway.refusallog import RefusalAggregator
from tests.auth0 import auth_headers, legacy_payload
from tests.pipeline.conftest import Fake, MakeGateway

# A number no other test sends: the serve tests share the session's Redis (not flushed for them),
# so the velocity counts this test leaves must not refuse their messages.
OWN_NUMBER = "+44 7400 654320"


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_burst_is_one_line_per_rule_per_second(json_logging: io.StringIO) -> None:
    """500 refusals by two rules in one second, then one more a second later: two count lines."""
    clock = FakeClock(start=1_700_000_000.2)
    agg = RefusalAggregator(clock, get_logger("test"))
    for i in range(500):
        agg.add("recipient-bombing" if i % 5 else "premium-rate", "dropped")
    assert _lines(json_logging) == []
    clock.advance(1.0)
    agg.add("recipient-bombing", "dropped")
    counts = {(line["rule"], line["second"]): line["count"] for line in _lines(json_logging)}
    second = 1_700_000_000
    assert counts == {("premium-rate", second): 100, ("recipient-bombing", second): 400}


def test_flush_writes_the_counts_still_held(json_logging: io.StringIO) -> None:
    """At shutdown the current second's counts are written, not lost."""
    agg = RefusalAggregator(FakeClock(), get_logger("test"))
    agg.add("blocked-countries", "blocked")
    agg.flush()
    ((line,),) = [_lines(json_logging)]
    assert (line["event"], line["outcome"], line["count"]) == ("refusals", "blocked", 1)


def test_aggregated_lines_pass_the_scrubber(json_logging: io.StringIO) -> None:
    """A number inside an aggregated line's values is masked like in any other line."""
    agg = RefusalAggregator(FakeClock(), get_logger("test"))
    agg.add("rule-for-+447400123456", "blocked")
    agg.flush()
    assert "447400123456" not in json_logging.getvalue()
    assert "+44*******456" in json_logging.getvalue()


async def test_refused_requests_are_counted_not_lined(
    make_gateway: MakeGateway, twilio: Fake, json_logging: io.StringIO
) -> None:
    """With logging.aggregate_refusals, the sent requests keep their line; the refused ones are
    counted in `refusals` lines (written at shutdown at the latest)."""
    client = await make_gateway(logging={"aggregate_refusals": True})
    for _ in range(6):  # the shipped recipient-bombing rule drops after 3 codes
        resp = await client.post("/sms", json=legacy_payload(OWN_NUMBER), headers=auth_headers())
        assert resp.status == 200
    await client.close()
    await asyncio.sleep(0)  # lines are written once per loop tick
    lines = _lines(json_logging)
    requests = [line for line in lines if line["event"] == "request" and line["path"] == "/sms"]
    refusals = [line for line in lines if line["event"] == "refusals"]
    assert [line["outcome"] for line in requests] == ["sent"] * len(twilio[0].received)
    assert sum(line["count"] for line in refusals) == 6 - len(twilio[0].received) > 0
