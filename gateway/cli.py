"""The `smsguard` command: serve, check settings, run locally, and the security team's tools."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from gateway.errors import ConfigError
from gateway.settings import ServerSettings, Settings, load_settings

SubParsers = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _config_path(value: str | None) -> Path | None:
    value = value or os.environ.get("SMSGUARD_CONFIG")
    return Path(value) if value else None


def load_or_exit(config: str | None) -> Settings:
    """Load settings or print every problem (file:line:col: key: message) and exit 2."""
    try:
        return load_settings(_config_path(config))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise SystemExit(2) from None


def check_or_exit(settings: Settings) -> None:
    """Catch what one section cannot see alone: build the app (no I/O) and load the rules."""
    from gateway.app import create_app
    from gateway.policy.loader import load_rules

    problems = []
    for step in (lambda: create_app(settings), lambda: load_rules(settings.rules.path)):
        try:
            step()
        except ConfigError as exc:
            problems.extend(exc.problems)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        raise SystemExit(2)


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.server import serve

    settings = load_or_exit(args.config)
    overrides = {
        k: v
        for k, v in (("host", args.host), ("port", args.port), ("workers", args.workers))
        if v is not None
    }
    if overrides:
        try:
            server = ServerSettings.model_validate({**settings.server.model_dump(), **overrides})
        except ValidationError as exc:
            for err in exc.errors():
                print(f"--{err['loc'][0]}: {err['msg']}", file=sys.stderr)
            return 2
        settings = settings.model_copy(update={"server": server})
    if settings.auth0.gateway_secret is None:
        print(
            f"{settings.source}: auth0.gateway_secret: required to authenticate Auth0 "
            "(set it, or SMSGUARD_AUTH0__GATEWAY_SECRET)",
            file=sys.stderr,
        )
        return 2
    check_or_exit(settings)
    _warn_sandbox(settings)
    return serve(settings)


def _warn_sandbox(settings: Settings) -> None:
    """The sandbox sends nothing, and an exposed one shows codes to anyone: say so loudly."""
    for provider in settings.providers:
        if provider.type != "sandbox":
            continue
        exposed = getattr(provider, "expose", False)
        print(
            f"WARNING: provider {provider.name!r} is the sandbox: messages are stored, not sent"
            + ("; GET /sandbox/messages shows them, codes included, to anyone" if exposed else ""),
            file=sys.stderr,
        )


def cmd_config_check(args: argparse.Namespace) -> int:
    from gateway.logs import configure_logging

    configure_logging("warning", "console")  # the check's own findings only, not start-up chatter
    settings = load_or_exit(args.file)
    check_or_exit(settings)
    if args.show:
        import yaml

        from gateway.settings import redacted

        print(yaml.safe_dump(redacted(settings), sort_keys=False), end="")
    print(
        f"{settings.source}: ok ({len(settings.providers)} provider(s): "
        f"{', '.join(p.name for p in settings.providers)})"
    )
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from gateway.devserver import run_dev

    return run_dev(Path(args.data_dir), _config_path(args.config), port=args.port)


def cmd_token(args: argparse.Namespace) -> int:
    """Print a JWT signed like Auth0's, for trying the gateway with curl."""
    import jwt

    from gateway.b64 import b64url_decode
    from gateway.clock import SystemClock

    settings = load_or_exit(args.config)
    secret = settings.auth0.gateway_secret
    dev_secrets = Path(args.data_dir) / "dev-secrets.json"
    if secret is not None:
        key = secret.get_secret_value()
    elif dev_secrets.exists():  # `make run` keeps its generated secret there
        import json

        key = json.loads(dev_secrets.read_text())["gateway_secret"]
    else:
        print(
            "auth0.gateway_secret is not set (nor is there a `make run` secrets file)",
            file=sys.stderr,
        )
        return 2
    raw = b64url_decode(key) if settings.auth0.secret_base64_encoded else key.encode()
    now = int(SystemClock().time())
    claims = {
        "sub": settings.auth0.subject,
        "aud": settings.auth0.audience,
        "iat": now,
        "exp": now + args.ttl,
    }
    print(jwt.encode(claims, raw, algorithm="HS256"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smsguard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="run the gateway")
    p.add_argument("--config", help="settings YAML (default: $SMSGUARD_CONFIG, else defaults)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, help="worker processes sharing the port")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("config", help="settings tools")
    csub = p.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    c = csub.add_parser("check", help="validate a settings file without starting")
    c.add_argument("file")
    c.add_argument(
        "--show",
        action="store_true",
        help="print the effective settings (environment applied, secrets hidden)",
    )
    c.set_defaults(func=cmd_config_check)

    p = sub.add_parser("dev", help="run locally on embedded defaults (what `make run` does)")
    p.add_argument("--data-dir", default=".run", help="where the local Redis and secrets live")
    p.add_argument("--config", help="optional settings YAML layered under the dev defaults")
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("token", help="print an Auth0-style gateway JWT (for curl tests)")
    p.add_argument("--config")
    p.add_argument("--ttl", type=int, default=300)
    p.add_argument("--data-dir", default=".run", help="`make run` data folder (its secret)")
    p.set_defaults(func=cmd_token)

    _register_features(sub)
    return parser


def _register_features(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The security team's commands, each registered by the stage that owns it: a fixed list,
    no discovery (a missing module is an error, not a silently absent command)."""
    from gateway import signals, simulate
    from gateway.alerts import cli as alerts_cli
    from gateway.dashboard import cli as dashboard_cli
    from gateway.feedback import cli as feedback_cli
    from gateway.pin import cli as pin_cli
    from gateway.policy import cli as rules_cli

    for module in (rules_cli, signals, pin_cli, dashboard_cli, alerts_cli, feedback_cli, simulate):
        module.register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
