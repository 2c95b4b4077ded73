"""Settings of the policy stage: where the rule set is and how it is reloaded."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from gateway.settings.base import Secret, Section


class RulesSettings(Section):
    # The rule set: a folder of *.yaml rule files (read in file-name order), or one file.
    path: Path = Path("rules")
    # Reload automatically when a file under `path` changes (SIGHUP always reloads).
    watch: bool = True
    # Quiet time after the last change before a reload (an editor saves in several writes).
    watch_debounce_ms: int = Field(300, ge=10, le=60_000)
    # Secret for the keyed hash in velocity counter names in Redis (numbers and IPs are not
    # recoverable from key names). Same value on every instance. Unset: a random secret is stored
    # in Redis on first start (SET NX `{sgv}:counter-hash-key`) and read by every instance.
    counter_hash_key: Secret | None = None
