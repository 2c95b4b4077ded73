"""`smsguard dev` (what `make run` calls): the gateway on its embedded defaults, on one machine.

Shipped rules, the sandbox provider (messages are stored, not sent), a private redis-server with AOF
under the data folder (unless REDIS_URL or the settings point at one), generated secrets kept in the
data folder so they survive restarts, and the URLs to use printed once.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from gateway.dashboard.auth import dev_user
from gateway.errors import ConfigError
from gateway.redisproc import RedisNotInstalled, RedisProcess, free_port, port_free
from gateway.settings import build_settings
from gateway.yamlsrc import Locator, load_yaml_file

DEV_PORT = 8080
DEV_REDIS_PORT = 6390


def _secrets(data_dir: Path) -> dict[str, str]:
    """Generated once per data folder; 0600 because it holds the gateway secret and a password."""
    path = data_dir / "dev-secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    values = {
        "gateway_secret": secrets.token_urlsafe(32),
        "dashboard_password": secrets.token_urlsafe(12),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(values, indent=2))
    values["new"] = "yes"
    return values


def dev_settings_data(
    data_dir: Path, base: dict[str, Any], redis_url: str, secret_values: dict[str, str], port: int
) -> dict[str, Any]:
    """The dev defaults layered under whatever the optional settings file says."""
    # Any: settings data before validation, nested as the file wrote it (build_settings checks it).
    data: dict[str, Any] = dict(base)
    data.setdefault("server", {}).setdefault("port", port)
    data["server"].setdefault("public_url", f"http://127.0.0.1:{data['server']['port']}")
    data.setdefault("redis", {})["url"] = redis_url
    data.setdefault("auth0", {}).setdefault("gateway_secret", secret_values["gateway_secret"])
    data.setdefault("providers", [{"name": "sandbox", "type": "sandbox", "expose": True}])
    data.setdefault("logging", {}).setdefault("format", "console")
    dash = data.setdefault("dashboard", {})
    dash.setdefault("users", [dev_user(secret_values["dashboard_password"])])
    dash.setdefault("cookie_secure", False)  # plain http on loopback
    return data


def run_dev(data_dir: Path, config: Path | None, port: int | None = None) -> int:
    from gateway.logs import configure_logging
    from gateway.server import serve

    base: dict[str, Any] = {}
    locator: Locator | None = None
    if config is not None:
        try:
            loaded, locator = load_yaml_file(config)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
        if loaded is not None and not isinstance(loaded, dict):
            print(f"{config}: the settings file is a mapping of sections", file=sys.stderr)
            return 2
        base = loaded or {}
    values = _secrets(data_dir)
    redis_url = (
        os.environ.get("REDIS_URL")
        or os.environ.get("SMSGUARD_REDIS__URL")
        or (base.get("redis", {}).get("url"))
    )
    redis: RedisProcess | None = None
    if not redis_url:
        redis_port = DEV_REDIS_PORT if port_free(DEV_REDIS_PORT) else free_port()
        redis = RedisProcess(data_dir / "redis", port=redis_port, appendonly=True)
        try:
            redis.start()
        except RedisNotInstalled as exc:
            print(f"smsguard dev: {exc}")
            return 2
        redis_url = redis.url
    http_port = port or (DEV_PORT if port_free(DEV_PORT) else free_port())
    try:
        settings = build_settings(
            dev_settings_data(data_dir, base, redis_url, values, http_port),
            locator,
            {k: v for k, v in os.environ.items() if k != "REDIS_URL"},
        )
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        if redis:
            redis.stop()
        return 2
    configure_logging(settings.logging.level, settings.logging.format)
    url = settings.server.public_url or f"http://127.0.0.1:{settings.server.port}"
    lines = [
        "",
        "smsguard is starting on its embedded defaults (sandbox provider: nothing is really sent)",
        f"  gateway        POST {url}/sms   (Auth0 gateway_url)",
        f"  sandbox inbox  {url}/sandbox/messages",
        f"  health         {url}/readyz   metrics {url}/metrics",
        f"  redis          {redis_url}"
        + ("  (private, AOF in " + str(data_dir / "redis") + ")" if redis else ""),
        f"  rules          {settings.rules.path}/  (edit; reloads on save)",
        f"  secrets        {data_dir / 'dev-secrets.json'}",
    ]
    if settings.dashboard.model_dump().get("users"):
        lines.append(f"  dashboard      {url}/dashboard   user: admin")
        if values.get("new"):
            lines.append(f"                 password (shown once): {values['dashboard_password']}")
        else:
            lines.append("                 password: in the secrets file above")
    lines += [
        "  try it:",
        f'    curl -s {url}/sms -H "Authorization: Bearer $(.venv/bin/smsguard token)" \\',
        '      -H "Content-Type: application/json" \\',
        '      -d \'{"recipient":"+447400123456","body":"Your verification code is: 123456",'
        '"req":{"ip":"203.0.113.7","user-agent":"Mozilla/5.0"}}\'',
        "",
    ]
    print("\n".join(lines), flush=True)
    os.environ["SMSGUARD_AUTH0__GATEWAY_SECRET"] = values["gateway_secret"]  # for `smsguard token`
    try:
        return serve(settings)
    finally:
        if redis:
            redis.stop()
