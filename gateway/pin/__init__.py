"""The PIN step: enrollment and verification after an SMS login (browser redirect and JSON API).

Off unless `pin.enabled`: then no route is added (the PIN endpoints answer 404) and one log line
says why. On, it serves the browser step (`GET/POST /pin`, when `pin.redirect_secret` is set) and
the JSON API (`/v1/pin`, `/v1/pin/verify`, `/.well-known/jwks.json`, when `pin.api_audience` is
set). PIN records live in Redis (`pin.redis_url`, else the shared client), which is checked at
start-up for persistence and `noeviction`.

    stage.py    setup(app): PinStep (service, tokens, policy) built at start-up as app[PIN_STEP]
    service.py  enroll, change, verify: the PIN rules with limits, hashing and metrics
    store.py    PIN records and attempt counters in Redis;  storage.py  is that Redis safe
    hashing.py  Argon2id off the event loop;  policy.py  which PINs may be chosen
    tokens.py   every token the step reads or writes (redirect, step-up, access tokens, JWKS)
    pages.py    the browser step (GET/POST /pin);  api.py  the JSON API;  i18n.py  its messages
    admin.py    PIN administration (status, reset, unlock, audit): `smsguard pin` (cli.py) and
                the dashboard both call it
"""

from gateway.pin.stage import PIN_STEP, PinStep, setup

__all__ = ["PIN_STEP", "PinStep", "setup"]
