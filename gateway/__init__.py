"""smsguard: the SMS gateway between Auth0 passwordless logins and the SMS providers.

The message path, one home per stage (see each package's docstring for its modules):

    intake.py -> signals/ -> policy/ (overrides/ first, velocity.py counters) -> providers/
    -> events/ (dashboard/, metrics.py, logs.py, alerts/ read what happened)
    feedback/ (which codes were used) and pin/ (the PIN step) feed the next decisions

Wiring: app.py (the factory), appkeys.py (typed shared resources), pipeline.py (POST /sms),
settings/ (configuration), server.py, cli.py and devserver.py (running it), health.py.
Shared facts: clock.py (the injected time), errors.py (the error tree), models.py (the data of
the path), phone.py, countries.py, clientip.py, geoip.py, useragent.py, lists.py, cidrs.py,
regexes.py, prices.py, yamlsrc.py (located YAML), jsontypes.py (JSON values), web.py (HTTP
helpers), writeback.py (the recorders' write-behind backlog).
simulate/ plays labelled traffic against a running gateway.
"""

__version__ = "0.1.0"
