"""Alerts: tell the security team within a minute that something started, and when it ends.

    model.py       Alert, Severity, Status: one incident and what a message says about it
    incidents.py   which incidents are open, shared by replicas through Redis (told once each)
    notifiers.py   webhook (HMAC-signed), Slack, PagerDuty Events v2: an alert as one request
    dispatcher.py  Alerter: fire()/clear() from any stage, delivery off the request path
    surge.py       refusals of a country, range or rule far above their own level
    stage.py       setup(app): the Alerter built at start-up as app[ALERTS]
    cli.py         `smsguard alerts test`

This package's __init__ imports nothing, so any stage (the providers' circuit breakers, the
policy) can import `gateway.alerts.model` without an import cycle through the settings.

Stages report through `app[ALERTS].fire(Alert(...))`; nothing else about alerts is their concern.
"""
