"""`smsguard pin status|unlock|reset USER_ID`: operator tools, audited, never showing the hash."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from gateway.cli import main
from gateway.pin.store import PinStore
from gateway.redisproc import RedisProcess

USER = "sms|cli-user"
HASH = "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"


@pytest.fixture(autouse=True)
def logs_seen() -> Iterator[list[dict[str, object]]]:
    """Capture structlog output, so the CLI keeps the test's logging setup."""
    with capture_logs() as logs:
        yield logs


@pytest.fixture
def config(tmp_path: Path, redis_server: RedisProcess) -> str:
    path = tmp_path / "smsguard.yaml"
    path.write_text(f"redis:\n  url: {redis_server.url}\npin:\n  max_failures: 3\n")
    return str(path)


def seed(url: str, *, failures: int) -> None:
    async def go() -> None:
        redis: Redis = Redis.from_url(url)
        store = PinStore(redis, max_failures=3, delay_base_s=0)
        await store.reset(USER)
        await store.enroll(USER, HASH, 1_700_000_000.0)
        for _ in range(failures):
            await store.begin_attempt(USER, "198.51.100.1", 1_700_000_100.0)
        await redis.delete(PinStore.ip_key("198.51.100.1"))
        await redis.aclose()

    asyncio.run(go())


def status(config: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["pin", "status", USER, "--config", config, "--json"]) == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def test_status_shows_lock_but_never_the_hash(
    config: str, redis_server: RedisProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """status prints enrollment, failures and lock; the Argon2 hash is not in the output."""
    seed(redis_server.url, failures=3)
    assert main(["pin", "status", USER, "--config", config]) == 0
    out = capsys.readouterr().out
    assert "argon2" not in out
    assert "locked           True" in out
    assert "failures         3" in out


@pytest.mark.parametrize(
    ("command", "after"),
    [
        ("unlock", {"enrolled": True, "locked": False, "failures": 0}),
        ("reset", {"enrolled": False, "locked": False, "failures": 0}),
    ],
    ids=["unlock-keeps-the-pin", "reset-forgets-the-pin"],
)
def test_unlock_clears_the_lock_and_reset_forgets_the_pin(
    config: str,
    redis_server: RedisProcess,
    capsys: pytest.CaptureFixture[str],
    command: str,
    after: dict[str, object],
) -> None:
    """unlock clears failures and lock (still enrolled); reset deletes the PIN (enroll again)."""
    seed(redis_server.url, failures=3)
    assert main(["pin", command, USER, "--config", config]) == 0
    capsys.readouterr()
    data = status(config, capsys)
    assert {k: data[k] for k in after} == after


def test_admin_actions_are_audited(
    config: str, redis_server: RedisProcess, logs_seen: list[dict[str, object]]
) -> None:
    """Each command logs who did what to whom, and appends to the audit stream."""
    seed(redis_server.url, failures=3)
    main(["pin", "unlock", USER, "--config", config, "--by", "alice", "--reason", "ticket 42"])
    logs = logs_seen
    (entry,) = [e for e in logs if e["event"] == "pin admin"]
    assert (entry["action"], entry["user"], entry["operator"], entry["reason"]) == (
        "unlock",
        USER,
        "alice",
        "ticket 42",
    )

    async def last_audit() -> dict[bytes, bytes]:
        redis: Redis = Redis.from_url(redis_server.url)
        ((_, fields),) = await redis.xrevrange("smsguard:{pin}:audit", count=1)
        await redis.aclose()
        return dict(fields)

    fields = asyncio.run(last_audit())
    assert (fields[b"action"], fields[b"operator"]) == (b"unlock", b"alice")
