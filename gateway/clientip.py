"""The client's IP address behind trusted reverse proxies (PIN step, dashboard login limits).

Each trusted proxy appends the address it received from to X-Forwarded-For, so with N trusted hops
the client is the N-th entry from the right; entries further left are whatever the client sent and
are never believed. Every X-Forwarded-For header line counts, in order: some proxies (HAProxy's
`option forwardfor`) add their own line instead of appending to the client's, and reading only the
first line would let a client pick its own address.
"""

from __future__ import annotations

from aiohttp import web

MAX_LENGTH = 64  # longer than any address; bounds what a proxy's header puts in keys and logs


def client_ip(request: web.Request, trusted_hops: int) -> str:
    """The peer address, or the X-Forwarded-For entry added by the outermost trusted proxy."""
    if trusted_hops > 0:
        joined = ",".join(request.headers.getall("X-Forwarded-For", []))
        hops = [h.strip() for h in joined.split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= trusted_hops:
            return hops[-trusted_hops][:MAX_LENGTH]
    return request.remote or "unknown"
