"""`make bench`: smsguard against a bare aiohttp app on this machine (see bench/run.py)."""
