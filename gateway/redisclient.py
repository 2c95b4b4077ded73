"""The one place Redis clients are built from settings: a server, a Sentinel set or a Cluster.

Every client gets the same connection hygiene, whatever the mode:
  - a pooled connection idle for `health_check_interval_s` is PINGed before it is used, and a
    command that meets a dead connection (closed by a Redis restart or a failover) is retried once
    on a fresh one: readiness probes and decisions do not fail on connections that died while the
    pool held them;
  - TLS (rediss:// or `tls: true`, private CA, client certificate) and ACL credentials apply to
    the data connections and, for Sentinel, to the sentinels.

Sentinel: the client asks the sentinels for the current primary on each new connection and drops
connections to a primary demoted to replica, so a failover costs the commands in flight only.
Cluster: redis-py's cluster client follows MOVED/ASK and re-reads the slot map after a failover.
Which keys share a slot is decided by their names (hash tags); README "Redis" lists the layout.

The cluster client is not a subclass of `Redis`, but serves the same commands for the single-slot
keys and pipelines smsguard uses; the stages are typed against `Redis`, so it is returned as one
(the real-cluster tests in tests/redis/ exercise every stage's commands on it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypedDict, cast
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis, RedisCluster, Sentinel
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError

from gateway.settings import RedisConnection

# A dead pooled connection is found on first use: one immediate retry on a fresh connection
# (which also re-asks the sentinels for the primary) is what a restart or a failover needs. More
# retries, or a backoff, would only slow every command while Redis is really down.
RETRIES = 1


class _Options(TypedDict, total=False):
    """Keyword arguments every client (and connection pool) takes alike."""

    socket_connect_timeout: float
    health_check_interval: float
    retry: Retry
    retry_on_error: list[type[Exception]]
    username: str | None
    password: str | None
    db: int
    ssl: bool
    ssl_check_hostname: bool
    ssl_ca_certs: str
    ssl_certfile: str
    ssl_keyfile: str


# redis-py leaves Sentinel's constructor unannotated; this is the signature we call it with.
_new_sentinel: Callable[..., Sentinel] = Sentinel


class _PinSettings(Protocol):
    @property
    def redis_url(self) -> str | None: ...
    @property
    def redis(self) -> RedisConnection | None: ...


def build_redis(conn: RedisConnection, *, connect_timeout_s: float = 2.0) -> Redis:
    """A client for `conn`; the caller closes it with `aclose()`."""
    common = _common(conn, connect_timeout_s)
    url = _with_tls_scheme(conn)
    if conn.mode == "cluster":
        seeds = [ClusterNode(*_host_port(n)) for n in conn.nodes]
        cluster = RedisCluster.from_url(url, startup_nodes=seeds or None, **common)
        return cast(Redis, cluster)  # same command API for our single-slot use (docstring)
    if conn.mode == "sentinel":
        parts = urlsplit(url)
        data: _Options = {
            **common,
            "db": int(parts.path.strip("/") or 0),
            "username": common.get("username", parts.username),
            "password": common.get("password", parts.password),
        }
        guards: _Options = {
            **common,
            "username": conn.sentinel_username,
            "password": (
                conn.sentinel_password.get_secret_value() if conn.sentinel_password else None
            ),
        }
        sentinel = _new_sentinel(
            [_host_port(s) for s in conn.sentinels], sentinel_kwargs=guards, **data
        )
        client: Redis = sentinel.master_for(conn.service_name, redis_class=Redis)
        return client
    return Redis.from_url(url, **common)


def pin_connection(pin: _PinSettings) -> RedisConnection | None:
    """The PIN records' own Redis (`pin.redis`, else `pin.redis_url`); None: the shared one."""
    if pin.redis is not None:
        return pin.redis
    return RedisConnection(url=pin.redis_url) if pin.redis_url else None


def shown(conn: RedisConnection) -> str:
    """Where `conn` points, for messages: no credentials."""
    if conn.mode == "sentinel":
        return f"sentinel {conn.service_name} via {', '.join(conn.sentinels)}"
    where = urlsplit(conn.url)
    return f"{conn.mode} {where.hostname}:{where.port or 6379}"


def _common(conn: RedisConnection, connect_timeout_s: float) -> _Options:
    options: _Options = {
        "socket_connect_timeout": connect_timeout_s,
        "health_check_interval": conn.health_check_interval_s,
        "retry": Retry(NoBackoff(), RETRIES),
        # Not timeouts: a slow Redis is the callers' budget to judge (velocity falls back), and
        # a command that timed out may still have run.
        "retry_on_error": [ConnectionError],
    }
    if conn.username is not None:
        options["username"] = conn.username
    if conn.password is not None:
        options["password"] = conn.password.get_secret_value()
    if _tls(conn):
        options["ssl_check_hostname"] = conn.tls_check_hostname
        if conn.tls_ca_file is not None:
            options["ssl_ca_certs"] = str(conn.tls_ca_file)
        if conn.tls_cert_file is not None:
            options["ssl_certfile"] = str(conn.tls_cert_file)
        if conn.tls_key_file is not None:
            options["ssl_keyfile"] = str(conn.tls_key_file)
        if conn.mode == "sentinel":
            options["ssl"] = True
    return options


def _tls(conn: RedisConnection) -> bool:
    return conn.tls or conn.url.startswith("rediss://")


def _with_tls_scheme(conn: RedisConnection) -> str:
    parts = urlsplit(conn.url)
    if _tls(conn) and parts.scheme == "redis":
        return urlunsplit(parts._replace(scheme="rediss"))
    return conn.url


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)
