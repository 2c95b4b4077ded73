"""smsguard: the SMS gateway between Auth0 passwordless logins and the SMS providers."""

__version__ = "0.1.0"
