"""Request and body signals: language, message type, template match, code length."""

from __future__ import annotations

from gateway.models import SmsRequest
from gateway.signals import SignalExtractor, compile_template, first_language, normalise_body
from tests.signals.helpers import sms

AUTH0_DEFAULT = "Your verification code is: @@password@@"


def test_language_is_the_first_accept_language_tag() -> None:
    """ "en-us,en;q=0.9" gives "en-US"."""
    assert SignalExtractor().compute(sms(language="en-us,en;q=0.9")).language == "en-US"


def test_language_tags_are_normalised() -> None:
    """Case and underscores are normalised: "PT_br" -> "pt-BR", "zh-hant-tw" -> "zh-Hant-TW"."""
    assert first_language("PT_br") == "pt-BR"
    assert first_language("zh-hant-tw") == "zh-Hant-TW"
    assert first_language("fr") == "fr"


def test_wildcard_or_garbage_language_is_unknown() -> None:
    """ "*", an empty value or a non-tag is None."""
    assert [first_language(v) for v in ("*", "", None, "12!")] == [None, None, None, None]


def test_message_type_is_passed_through() -> None:
    """The Action path's message_type becomes the message_type signal."""
    assert SignalExtractor().compute(sms(message_type="otp_verify")).message_type == "otp_verify"


def test_body_matching_the_template_gives_code_length() -> None:
    """Auth0's default text with a 6-digit code matches, code_length 6."""
    signals = SignalExtractor(templates=[AUTH0_DEFAULT]).compute(
        sms(body="Your verification code is: 123456")
    )
    assert (signals.body_matches_template, signals.code_length) == (True, 6)


def test_body_with_other_text_does_not_match() -> None:
    """A body that is not the configured template does not match; its longest digit run counts."""
    signals = SignalExtractor(templates=[AUTH0_DEFAULT]).compute(
        sms(body="WIN a prize! Call 0909 8790000 now, code 1234")
    )
    assert (signals.body_matches_template, signals.code_length) == (False, 7)


def test_code_must_be_digits() -> None:
    """Letters where the code should be do not match the template."""
    signals = SignalExtractor(templates=[AUTH0_DEFAULT]).compute(
        sms(body="Your verification code is: abcdef")
    )
    assert signals.body_matches_template is False


def test_any_of_several_templates_may_match() -> None:
    """With several expected templates, matching any one is enough."""
    extractor = SignalExtractor(templates=[AUTH0_DEFAULT, "Votre code : @@password@@"])
    signals = extractor.compute(sms(body="Votre code : 4821"))
    assert (signals.body_matches_template, signals.code_length) == (True, 4)


def test_no_template_configured_means_unknown() -> None:
    """No expected templates: body.template_ok is None; code_length is the longest digit run."""
    signals = SignalExtractor().compute(sms(body="code 99887"))
    assert (signals.body_matches_template, signals.code_length) == (None, 5)


def test_whitespace_differences_and_other_macros_are_tolerated() -> None:
    """Extra spaces or line breaks and liquid macros like {{ application.name }} still match."""
    pattern = compile_template("{{ application.name }}: your code is {{ code }}")
    assert pattern.fullmatch(normalise_body("Acme Shop: your code\n is  123456"))
    assert not pattern.fullmatch(normalise_body("Acme Shop: your code is 12a456"))


def test_hostile_body_cannot_stall_template_matching() -> None:
    """A body of whitespace against a template with several free-text macros is refused at once
    (it used to backtrack for minutes: a stalled event loop)."""
    extractor = SignalExtractor(
        templates=["{{ application.name }} {{ a }}: your {{ b }} code is @@password@@ {{ c }}"]
    )
    sms = SmsRequest("r", 0.0, "sms_gateway", "+447400123456", " \t" * 300 + "x")
    assert extractor.compute(sms).body_matches_template is False


def test_regex_characters_in_templates_are_literal() -> None:
    """A template's punctuation is matched literally, not as regex syntax."""
    pattern = compile_template("Code (valid 5 min.): @@password@@")
    assert pattern.fullmatch("Code (valid 5 min.): 123456")
    assert not pattern.fullmatch("Code Xvalid 5 minX: 123456")
