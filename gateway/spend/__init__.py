"""Spend: what each message costs, money budgets, and what was spent.

    segments.py  GSM-7 / UCS-2 segments of a body, concatenation as carriers pack it
    money.py     amounts in integer micro-units of the currency, shown in its minor unit
    rates.py     per-segment prices (shipped table, the operator's CSV or settings) -> a Cost
    periods.py   a budget's window: calendar hour/day in a time zone, or rolling minutes
    counters.py  budget counters in Redis (a step of the velocity script) and in-process
    watch.py     the budget gauge, and alerts at 50% / 80% / 100%
    ledger.py    spend per country and route, per day and month; delivered vs failed
    setup.py     app[SPEND] at start-up
The `budget:` rule kind is gateway/policy/budget.py; the Spend page gateway/dashboard/spend.py.

`setup.setup(app)` builds app[SPEND] (rates, routes, watch, ledger) at start-up, after the
providers
(whose routes budgets use) and before the policy (whose budget rules price with it).
"""
