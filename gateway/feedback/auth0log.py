"""Auth0 tenant log events -> completions: the body formats, the envelope, the types that count.

A Custom Webhook log stream POSTs batches in the content format chosen for the stream: JSON lines
(one record per line), a JSON array of records, or a JSON object (one record; an object whose
values are all records is read as a batch too). Each record is `{"log_id": ..., "data": {event}}`
(the envelope public integrations such as Elastic's document), or a bare event as the Management
API serves it (`GET /api/v2/logs`).

An event counts when it is a passwordless SMS one: `strategy` "sms", or no strategy (the token
exchanges `sepft` / `fepft` / `fepotpft` carry none) and a phone number as `user_name` (or, on a
signup, `details.body.phone_number`):
  - completions: `s` login, `ss` signup, `sepft` code exchanged for tokens (embedded login);
  - failures (a wrong or expired code): `f`, `fp`, `fcoa`, `fepft`, `fepotpft`;
  - everything else is ignored (and counted).
Bad input raises IntakeError(400) naming the record index and field; nothing of the batch is
applied then (Auth0 retries the delivery; log_ids make a retry harmless).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

from gateway.errors import IntakeError
from gateway.feedback.store import Completion, Kind
from gateway.jsontypes import JSON, JSONObject
from gateway.phone import phone_facts

COMPLETION_TYPES = frozenset({"s", "ss", "sepft"})
FAILURE_TYPES = frozenset({"f", "fp", "fcoa", "fepft", "fepotpft"})
MAX_LOG_ID = 128


@dataclass
class Batch:
    """A parsed delivery: the completions and failures to apply, and how many were ignored."""

    completions: list[Completion]
    ignored: int
    records: int


def parse_body(raw: bytes) -> list[JSON]:
    """The records of a delivery in any of the three content formats."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntakeError(400, f"body is not UTF-8 (byte {exc.start})", field="body") from None
    if not text.strip():
        raise IntakeError(400, "body is empty", field="body")
    try:
        whole: JSON = json.loads(text)
    except json.JSONDecodeError:
        return list(_json_lines(text))
    except RecursionError:
        raise IntakeError(400, "body nests too deeply", field="body") from None
    if isinstance(whole, list):
        return whole
    if isinstance(whole, dict):
        if _is_record(whole) or not whole:
            return [whole]
        if all(isinstance(v, dict) and _is_record(v) for v in whole.values()):
            return list(whole.values())
        return [whole]
    raise IntakeError(400, "body must be JSON lines, a JSON array or a JSON object", field="body")


def _json_lines(text: str) -> Iterator[JSON]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value: JSON = json.loads(line)
            yield value
        except json.JSONDecodeError as exc:
            raise IntakeError(
                400, f"line {number} is not JSON: {exc.msg} at column {exc.colno}", field="body"
            ) from None
        except RecursionError:
            raise IntakeError(400, f"line {number} nests too deeply", field="body") from None


def _is_record(value: JSONObject) -> bool:
    return "log_id" in value or "data" in value or "type" in value


def classify(records: list[JSON], *, source: str, received_at: float, offset: int = 0) -> Batch:
    """Validate every record, then keep the SMS completions and failures (all or nothing).
    `offset`: the index of records[0] in the delivery (for error messages)."""
    out: list[Completion] = []
    ignored = 0
    for index, record in enumerate(records, start=offset):
        done = _classify_one(record, index, source=source, received_at=received_at)
        if done is None:
            ignored += 1
        else:
            out.append(done)
    return Batch(out, ignored, len(records))


async def classify_yielding(
    records: list[JSON], *, source: str, received_at: float, chunk: int = 500
) -> Batch:
    """`classify` a big delivery in chunks, letting other requests (POST /sms) run between them:
    parsing a number costs ~0.1 ms, so 10,000 events would hold the event loop for a second."""
    batch = Batch([], 0, 0)
    for start in range(0, len(records), chunk):
        part = classify(
            records[start : start + chunk], source=source, received_at=received_at, offset=start
        )
        batch.completions += part.completions
        batch.ignored += part.ignored
        batch.records += part.records
        await asyncio.sleep(0)
    return batch


def _classify_one(
    record: JSON, index: int, *, source: str, received_at: float
) -> Completion | None:
    where = f"records[{index}]"
    if not isinstance(record, dict):
        raise IntakeError(400, "a record must be a JSON object", field=where)
    event: JSONObject = record
    if "data" in record:
        data = record["data"]
        where += ".data"
        if not isinstance(data, dict):
            raise IntakeError(400, "must be a JSON object (the log event)", field=where)
        event = data
    kind = event.get("type")
    if not isinstance(kind, str):
        raise IntakeError(400, "missing or not a string", field=f"{where}.type")
    log_id = record.get("log_id", event.get("log_id", event.get("_id")))
    if log_id is not None and (not isinstance(log_id, str) or not 0 < len(log_id) <= MAX_LOG_ID):
        raise IntakeError(
            400, f"must be a string of 1-{MAX_LOG_ID} characters", field=f"records[{index}].log_id"
        )
    outcome: Kind
    if kind in COMPLETION_TYPES:
        outcome = "completion"
    elif kind in FAILURE_TYPES:
        outcome = "failure"
    else:
        return None
    strategy = event.get("strategy")
    if strategy is not None and not isinstance(strategy, str):
        raise IntakeError(400, "must be a string", field=f"{where}.strategy")
    if strategy and strategy != "sms":
        return None
    phone = _phone(event, where)
    if phone is None:
        return None
    if log_id is None:
        raise IntakeError(400, "an SMS login event needs its log_id", field=f"{where}.log_id")
    at = parse_date(event.get("date"), f"{where}.date", received_at)
    return Completion(phone, at, kind=outcome, log_id=log_id, source=source)


def _phone(event: JSONObject, where: str) -> str | None:
    """The E.164 number the event is about, or None when it names no phone number."""
    candidates: list[tuple[str, JSON]] = [("user_name", event.get("user_name"))]
    details = event.get("details")
    body = details.get("body") if isinstance(details, dict) else None
    if isinstance(body, dict):
        candidates.append(("details.body.phone_number", body.get("phone_number")))
    for field, value in candidates:
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise IntakeError(400, "must be a string", field=f"{where}.{field}")
        facts = phone_facts(value) if value.lstrip().startswith("+") else None
        if facts is not None and facts.calling_code:
            return facts.e164
    return None


def parse_date(value: JSON, field: str, default: float) -> float:
    if value is None:
        return default
    if not isinstance(value, str):
        raise IntakeError(400, "must be an ISO 8601 date string", field=field)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise IntakeError(400, f"not an ISO 8601 date: {value[:40]!r}", field=field) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()
