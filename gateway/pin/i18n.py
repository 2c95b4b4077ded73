"""Message catalogue for the PIN page and JSON errors: one dict per language.

Add a language by adding a dict with the same keys under its tag ("fr", "de", ...); missing keys
fall back to English. The language comes from `ui_locales` (Auth0 passes the app's choice) and
then the browser's Accept-Language.
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "en"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "title_enroll": "Choose a PIN",
        "title_verify": "Enter your PIN",
        "title_locked": "PIN locked",
        "title_expired": "This sign-in has expired",
        "title_invalid": "This link is not valid",
        "lead_enroll": (
            "Your phone proved it is yours. A PIN proves it is you: you will enter it after each "
            "text-message code."
        ),
        "lead_verify": "Enter the PIN you chose to finish signing in.",
        "label_pin": "PIN",
        "label_new_pin": "New PIN",
        "label_confirm": "Repeat the PIN",
        "policy_digits": "Use {min} to {max} digits.",
        "policy_any": "Use {min} to {max} characters.",
        "policy_digits_min": "Use at least {min} digits.",
        "policy_any_min": "Use at least {min} characters.",
        "policy_blocklist": (
            "Avoid easy guesses: repeated or consecutive digits (111111, 123456), keypad "
            "patterns, years, dates and other common PINs are refused."
        ),
        "submit_enroll": "Save PIN and continue",
        "submit_verify": "Continue",
        "back_to_app": "Return to the application",
        "err_required": "Enter your PIN.",
        "err_mismatch": "The two PINs are not the same.",
        "err_not_digits": "Use digits only.",
        "err_too_short": "The PIN is too short: use at least {min} digits.",
        "err_too_long": "The PIN is too long: use at most {max} characters.",
        "err_repeated": "The PIN repeats one digit; choose one that is harder to guess.",
        "err_pattern": "The PIN repeats a pattern; choose one that is harder to guess.",
        "err_sequence": "The PIN is a sequence of consecutive digits; choose another.",
        "err_keyboard": "The PIN follows a line on the keypad; choose another.",
        "err_date": "The PIN looks like a year or a date; choose another.",
        "err_common": "This PIN is among the most common ones; choose another.",
        "err_same_as_old": "The new PIN must differ from the current one.",
        "err_wrong": "That PIN is not correct. {remaining} attempts left before it is locked.",
        "err_wait": "Too many wrong PINs. Wait {seconds} seconds, then try again.",
        "err_ip_limited": "Too many wrong PINs from this network. Try again later.",
        "err_csrf": "This form has expired. Please enter your PIN again.",
        "err_busy": "The service is busy. Please try again in a moment.",
        "locked_body": (
            "Your PIN was entered wrongly too many times and is now locked. Contact support to "
            "have it reset; signing in again by text message will not unlock it."
        ),
        "expired_body": "Start signing in again from the application.",
        "invalid_body": "Open the application and sign in again.",
    },
}


def pick_language(ui_locales: str | None, accept_language: str | None) -> str:
    """First supported language of `ui_locales` (space-separated), then Accept-Language."""
    candidates: list[str] = []
    if ui_locales:
        candidates.extend(ui_locales.split())
    if accept_language:
        weighted: list[tuple[float, int, str]] = []
        for index, part in enumerate(accept_language.split(",")):
            tag, _, params = part.strip().partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    quality = 0.0
            if tag:
                weighted.append((-quality, index, tag))
        candidates.extend(tag for _, _, tag in sorted(weighted))
    for tag in candidates:
        base = tag.lower().split("-")[0]
        if base in MESSAGES:
            return base
    return DEFAULT_LANGUAGE


class Translator:
    """`t("err_wrong", remaining=3)` in one language, falling back to English per key."""

    def __init__(self, language: str) -> None:
        self.language = language if language in MESSAGES else DEFAULT_LANGUAGE

    def __call__(self, key: str, **params: object) -> str:
        text = MESSAGES[self.language].get(key) or MESSAGES[DEFAULT_LANGUAGE][key]
        return text.format(**params) if params else text
