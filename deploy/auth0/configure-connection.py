#!/usr/bin/env python3
"""Point an Auth0 tenant's passwordless SMS connection at smsguard (legacy `sms_gateway` path).

Reads the connection's current `options` through the Management API, merges in

    provider: sms_gateway, gateway_url, gateway_authentication {method: bearer, subject, audience,
    secret, secret_base64_encoded}, forward_req_info: true

keeps every other option as it is (template, from, totp, syntax, brute_force_protection,
disable_signup, name ...), prints a redacted diff, and sends `PATCH /api/v2/connections/{id}` with
the whole merged `options` object (a PATCH replaces `options`) only when `--apply` is given.

Standalone on purpose: Python 3.9+ standard library only, no import from the gateway package, so it
runs on any operator's machine. Secrets come from environment variables or files (a Management API
token may also be given with --token) and are never printed.

Examples:
    export AUTH0_CLIENT_SECRET=...           # a machine-to-machine app with read:connections and
                                             # update:connections on the Management API
    export SMSGUARD_GATEWAY_SECRET=...       # the same value as auth0.gateway_secret in smsguard
    ./configure-connection.py --domain acme.eu.auth0.com --client-id abc123 \\
        --gateway-url https://sms.acme.example/sms            # dry run: shows the diff
    ./configure-connection.py ... --apply                     # sends the PATCH

Exit status: 0 done (or nothing to change), 1 an Auth0 or network error, 2 a usage error.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

REDACTED = "<redacted>"
SECRET_WORDS = ("secret", "token", "password", "key", "sid")
USER_AGENT = "smsguard-configure-connection/1"


class UsageError(Exception):
    """The operator asked for something this script cannot do (exit 2)."""


class Auth0Error(Exception):
    """Auth0 answered with an error, or could not be reached (exit 1)."""


# --- reading secrets -------------------------------------------------------------------------


def read_secret(env_name: str | None, file_path: str | None, what: str) -> str | None:
    """The secret from `file_path` when given, else from the environment variable `env_name`."""
    if file_path:
        try:
            value = Path(file_path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"cannot read {what} from {file_path}: {exc.strerror}") from None
        if not value:
            raise UsageError(f"{what} file {file_path} is empty")
        return value
    if env_name:
        value = os.environ.get(env_name, "").strip()
        return value or None
    return None


# --- HTTP ------------------------------------------------------------------------------------


class Api:
    """A tiny JSON client for Auth0's authentication and Management APIs."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token: str | None = None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        url = self.base_url + path
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (https or --base-url)
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", USER_AGENT)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token and not path.startswith("/oauth/"):
            request.add_header("Authorization", f"Bearer {self.token}")
        where = f"{method} {url}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc.read())
            hint = _hint(exc.code, path)
            raise Auth0Error(f"{where} -> HTTP {exc.code}: {detail}{hint}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Auth0Error(f"{where} -> cannot connect: {reason}") from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise Auth0Error(f"{where} -> answer is not JSON: {raw[:200]!r}") from None


def _error_detail(raw: bytes) -> str:
    """Auth0's error body, compact, with anything secret-looking redacted."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        text = raw.decode("utf-8", "replace").strip()
        return text[:500] or "(empty body)"
    return json.dumps(redact(parsed), sort_keys=True)[:1000]


def _hint(status: int, path: str) -> str:
    if path.startswith("/oauth/") and status in (401, 403):
        return (
            " (check --client-id, the client secret, and that the application is authorised"
            " for the Management API)"
        )
    if status == 401:
        return " (the Management API token is invalid or expired)"
    if status == 403:
        return " (the token lacks a scope: read:connections and update:connections are needed)"
    if status == 404:
        return " (no such connection: check --connection-id)"
    if status == 429:
        return " (Auth0 rate limit: wait and run again)"
    return ""


# --- the merge -------------------------------------------------------------------------------


def merged_options(
    current: dict[str, Any], args: argparse.Namespace, secret: str
) -> dict[str, Any]:
    """The connection's options with smsguard's keys set; every other key kept as it is."""
    options = copy.deepcopy(current)
    options["provider"] = "sms_gateway"
    options["gateway_url"] = args.gateway_url
    options["gateway_authentication"] = {
        "method": "bearer",
        "subject": args.subject,
        "audience": args.audience,
        "secret": secret,
        "secret_base64_encoded": bool(args.secret_base64_encoded),
    }
    options["forward_req_info"] = True
    if args.sender is not None:
        options["from"] = args.sender
    return options


def is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS)


def is_secret(key: Any, value: Any) -> bool:
    """A non-empty string under a secret-looking key (a flag like secret_base64_encoded is not)."""
    return is_secret_key(str(key)) and isinstance(value, str) and value != ""


def redact(value: Any) -> Any:
    """A copy of `value` with every secret-looking key's value replaced."""
    if isinstance(value, dict):
        return {k: (REDACTED if is_secret(k, v) else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def diff(old: Any, new: Any, path: str = "options") -> list[str]:
    """Key-by-key differences as `~ path: old -> new`, `+ path: new`, `- path: old` lines."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}"
            if key not in old:
                lines.append(f"+ {sub}: {_show(key, new[key])}")
            elif key not in new:
                lines.append(f"- {sub}: {_show(key, old[key])}")
            elif is_secret(key, old[key]) or is_secret(key, new[key]):
                if old[key] != new[key]:
                    lines.append(f"~ {sub}: {REDACTED} (changed)")
            else:
                lines.extend(diff(old[key], new[key], sub))
        return lines
    if old != new:
        leaf = path.rsplit(".", 1)[-1]
        return [f"~ {path}: {_show(leaf, old)} -> {_show(leaf, new)}"]
    return []


def _show(key: Any, value: Any) -> str:
    if is_secret(key, value):
        return REDACTED
    return json.dumps(redact(value), sort_keys=True)


# --- the steps -------------------------------------------------------------------------------


def get_token(api: Api, domain: str, client_id: str, client_secret: str) -> str:
    answer = api.call(
        "POST",
        "/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "audience": f"https://{domain}/api/v2/",
        },
    )
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not token:
        raise Auth0Error("POST /oauth/token -> answer has no access_token")
    return str(token)


def find_connection(api: Api, connection_id: str | None, name: str | None) -> dict[str, Any]:
    if connection_id:
        quoted = urllib.parse.quote(connection_id, safe="")
        found = api.call("GET", f"/api/v2/connections/{quoted}")
        if not isinstance(found, dict):
            raise Auth0Error(f"GET /api/v2/connections/{connection_id} -> not a connection object")
        if found.get("strategy") != "sms":
            raise UsageError(
                f"connection {connection_id} has strategy {found.get('strategy')!r}, not 'sms'"
            )
        return found
    listed = api.call("GET", "/api/v2/connections?strategy=sms&per_page=100")
    if isinstance(listed, dict):  # include_totals shape
        listed = listed.get("connections", [])
    if not isinstance(listed, list):
        raise Auth0Error("GET /api/v2/connections -> answer is not a list")
    candidates = [c for c in listed if isinstance(c, dict) and c.get("strategy", "sms") == "sms"]
    if name:
        candidates = [c for c in candidates if c.get("name") == name]
    if not candidates:
        wanted = f" named {name!r}" if name else ""
        raise UsageError(f"the tenant has no passwordless SMS connection{wanted}")
    if len(candidates) > 1:
        listing = ", ".join(f"{c.get('name')} ({c.get('id')})" for c in candidates)
        raise UsageError(
            f"several SMS connections: {listing}; "
            "choose one with --connection-id or --connection-name"
        )
    chosen = candidates[0]
    # Read it on its own: the list may not carry every option.
    quoted = urllib.parse.quote(str(chosen["id"]), safe="")
    found = api.call("GET", f"/api/v2/connections/{quoted}")
    return found if isinstance(found, dict) else chosen


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="configure-connection.py",
        description="Configure an Auth0 passwordless SMS connection to send through smsguard "
        "(provider sms_gateway). Dry run by default: prints a redacted diff; --apply sends it.",
        epilog="Secrets are read from environment variables or files, never from the command line"
        " and never printed. The Management API application needs the read:connections and "
        "update:connections scopes. Exit status: 0 done, 1 Auth0/network error, 2 usage error.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--domain",
        default=os.environ.get("AUTH0_DOMAIN"),
        help="tenant domain, e.g. acme.eu.auth0.com (env AUTH0_DOMAIN)",
    )
    parser.add_argument("--base-url", help="Auth0 base URL (default https://DOMAIN); for tests")
    auth = parser.add_argument_group("Management API access (a token, or client credentials)")
    auth.add_argument(
        "--token",
        help="a Management API token (visible to `ps`: prefer --token-env or --token-file)",
    )
    auth.add_argument(
        "--token-env",
        default="AUTH0_MANAGEMENT_TOKEN",
        metavar="NAME",
        help="environment variable holding a Management API token",
    )
    auth.add_argument("--token-file", metavar="PATH", help="file holding a Management API token")
    auth.add_argument(
        "--client-id",
        default=os.environ.get("AUTH0_CLIENT_ID"),
        help="machine-to-machine application's client id (env AUTH0_CLIENT_ID)",
    )
    auth.add_argument(
        "--client-secret-env",
        default="AUTH0_CLIENT_SECRET",
        metavar="NAME",
        help="environment variable holding that application's client secret",
    )
    auth.add_argument("--client-secret-file", metavar="PATH", help="file holding the client secret")
    conn = parser.add_argument_group("which connection")
    conn.add_argument(
        "--connection-id",
        help="the connection's id (con_...); default: the tenant's only strategy=sms connection",
    )
    conn.add_argument("--connection-name", help="pick the sms connection with this name")
    gw = parser.add_argument_group("smsguard")
    gw.add_argument(
        "--gateway-url",
        required=False,
        help="smsguard's POST /sms URL, e.g. https://sms.acme.example/sms",
    )
    gw.add_argument("--subject", default="urn:Auth0", help="JWT sub (auth0.subject in smsguard)")
    gw.add_argument(
        "--audience", default="urn:MySmsGateway", help="JWT aud (auth0.audience in smsguard)"
    )
    gw.add_argument(
        "--gateway-secret-env",
        default="SMSGUARD_GATEWAY_SECRET",
        metavar="NAME",
        help="environment variable holding the shared secret (auth0.gateway_secret)",
    )
    gw.add_argument("--gateway-secret-file", metavar="PATH", help="file holding the shared secret")
    gw.add_argument(
        "--secret-base64-encoded",
        action="store_true",
        help="the secret is base64url-encoded (auth0.secret_base64_encoded: true)",
    )
    gw.add_argument("--from", dest="sender", help="also set the connection's `from` number")
    parser.add_argument("--apply", action="store_true", help="send the PATCH (default: dry run)")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds per HTTP call")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, out: Any = sys.stdout) -> int:
    if not args.domain:
        raise UsageError("--domain (or AUTH0_DOMAIN) is required")
    if not args.gateway_url:
        raise UsageError("--gateway-url is required")
    url = urllib.parse.urlsplit(args.gateway_url)
    if url.scheme not in ("https", "http") or not url.netloc:
        raise UsageError(f"--gateway-url {args.gateway_url!r} is not an http(s) URL")
    if url.scheme != "https":
        print(
            "warning: --gateway-url is not https; Auth0 would send the token in clear",
            file=sys.stderr,
        )
    if not url.path.rstrip("/").endswith("/sms"):
        print(
            "warning: smsguard receives messages at POST /sms; --gateway-url does not end in /sms",
            file=sys.stderr,
        )
    secret = read_secret(args.gateway_secret_env, args.gateway_secret_file, "gateway secret")
    if not secret:
        raise UsageError(
            f"the gateway secret is missing: set {args.gateway_secret_env} or --gateway-secret-file"
        )
    domain = args.domain.strip().removeprefix("https://").rstrip("/")
    api = Api(args.base_url or f"https://{domain}", args.timeout)

    token = args.token or read_secret(args.token_env, args.token_file, "Management API token")
    if token:
        api.token = token
    else:
        client_secret = read_secret(
            args.client_secret_env, args.client_secret_file, "client secret"
        )
        if not (args.client_id and client_secret):
            raise UsageError(
                f"no Management API access: set {args.token_env} (or --token-file), or --client-id"
                f" with {args.client_secret_env} (or --client-secret-file)"
            )
        api.token = get_token(api, domain, args.client_id, client_secret)

    connection = find_connection(api, args.connection_id, args.connection_name)
    conn_id = str(connection.get("id"))
    current = connection.get("options") or {}
    if not isinstance(current, dict):
        raise Auth0Error(f"connection {conn_id} has options that are not an object")
    new = merged_options(current, args, secret)
    changes = diff(current, new)
    print(f"connection {connection.get('name')} ({conn_id}) on {domain}", file=out)
    if not changes:
        print("already configured for smsguard: nothing to change", file=out)
        return 0
    for line in changes:
        print(f"  {line}", file=out)
    if not args.apply:
        print("dry run: nothing sent; run again with --apply to PATCH these options", file=out)
        return 0
    quoted = urllib.parse.quote(conn_id, safe="")
    answer = api.call("PATCH", f"/api/v2/connections/{quoted}", {"options": new})
    applied = (answer or {}).get("options", {}) if isinstance(answer, dict) else {}
    if applied.get("provider") != "sms_gateway" or applied.get("gateway_url") != args.gateway_url:
        raise Auth0Error(
            "PATCH accepted, but the connection Auth0 returned is not configured"
            " for smsguard; check it in the dashboard"
        )
    print(f"applied: connection {conn_id} now sends through {args.gateway_url}", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Auth0Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
