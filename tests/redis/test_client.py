"""The client factory: TLS with a private CA and a client certificate, ACL users, settings."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.errors import ConfigError
from gateway.redisclient import build_redis, pin_connection, shown
from gateway.redisproc import RedisProcess, free_port
from gateway.settings import RedisConnection, build_settings


def _issue(
    folder: Path, name: str, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None
) -> tuple[x509.Name, ec.EllipticCurvePrivateKey]:
    """A key and certificate `name` (self-signed CA when `issuer` is None), written as PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_name, signer_key = issuer or (subject, key)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False)
    cert = builder.sign(signer_key, hashes.SHA256())
    (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return subject, key


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[RedisProcess, int, Path]]:
    """A redis-server that also listens with TLS (client certificates required) and has an ACL
    user `smsguard`; its plain port stays open for the start-up check only."""
    certs = tmp_path / "certs"
    certs.mkdir()
    ca = _issue(certs, "ca", None)
    _issue(certs, "server", ca)
    _issue(certs, "client", ca)
    tls_port = free_port()
    server = RedisProcess(
        tmp_path / "redis",
        appendonly=False,
        extra=[
            *("--tls-port", str(tls_port)),
            *("--tls-cert-file", str(certs / "server.pem")),
            *("--tls-key-file", str(certs / "server.key")),
            *("--tls-ca-cert-file", str(certs / "ca.pem")),
            *("--tls-auth-clients", "yes"),
            *("--user", "smsguard", "on", ">s3cret-pass", "~*", "&*", "+@all"),
        ],
    )
    with server:
        yield server, tls_port, certs


async def test_tls_with_a_client_certificate_and_an_acl_user(
    tls_redis: tuple[RedisProcess, int, Path],
) -> None:
    """TLS with a private CA and a client certificate, an ACL user: served as that user."""
    _, port, certs = tls_redis
    settings = build_settings(
        {
            "redis": {
                "url": f"redis://127.0.0.1:{port}/0",
                "tls": True,
                "tls_ca_file": str(certs / "ca.pem"),
                "tls_cert_file": str(certs / "client.pem"),
                "tls_key_file": str(certs / "client.key"),
                "username": "smsguard",
                "password": {"env": "REDIS_PASSWORD"},
            }
        },
        environ={"REDIS_PASSWORD": "s3cret-pass"},
    )
    client = build_redis(settings.redis)
    try:
        whoami = await client.execute_command("ACL", "WHOAMI")
    finally:
        await client.aclose()
    assert whoami == b"smsguard"


def test_sentinel_mode_without_sentinels_is_a_config_error() -> None:
    """mode: sentinel needs the sentinels' addresses; the error names the key."""
    with pytest.raises(ConfigError) as caught:
        build_settings({"redis": {"mode": "sentinel"}}, environ={})
    assert "mode sentinel needs sentinels" in str(caught.value.problems[0])


def test_a_seed_node_that_is_not_host_port_is_a_config_error() -> None:
    """Cluster seed nodes are host:port; anything else is refused with the value."""
    with pytest.raises(ConfigError) as caught:
        build_settings({"redis": {"mode": "cluster", "nodes": ["10.0.0.1"]}}, environ={})
    assert "'10.0.0.1' is not host:port" in str(caught.value.problems[0])


def test_the_pin_redis_in_full_wins_over_its_short_url() -> None:
    """pin.redis (mode, TLS ...) is used when set; pin.redis_url alone is a standalone server."""
    short = build_settings({"pin": {"redis_url": "redis://pins:6379/2"}}, environ={})
    full = build_settings(
        {"pin": {"redis": {"mode": "sentinel", "sentinels": ["s0:26379"], "service_name": "p"}}},
        environ={},
    )
    assert pin_connection(short.pin) == RedisConnection(url="redis://pins:6379/2")
    assert pin_connection(full.pin) == full.pin.redis
    assert pin_connection(build_settings({}, environ={}).pin) is None


def test_where_a_connection_points_is_shown_without_credentials() -> None:
    """Messages name the host, never the password in the URL."""
    conn = RedisConnection(url="rediss://user:hunter2@redis.internal:6380/0")
    assert shown(conn) == "standalone redis.internal:6380"
