"""Country codes: the one check, against the ISO 3166-1 alpha-2 list, for every place a country is
written (list items, rule values, overrides, price tables) or read (GeoIP answers)."""

from __future__ import annotations

from gateway.errors import InputError

# ISO 3166-1 alpha-2, plus XK (Kosovo, user-assigned but used by MaxMind and phone metadata).
_ISO_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
    EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
    HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
    LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
    NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK
"""
ISO_COUNTRIES: frozenset[str] = frozenset(_ISO_CODES.split())
_COUNTRY_HINTS = {"UK": "GB", "EL": "GR"}
# YAML 1.1 reads an unquoted NO (Norway) as false; a country item "False" is almost surely that.
_YAML_NO = "YAML reads an unquoted NO as false: write 'NO' in quotes"


class NotACountry(InputError):
    """The text is not an ISO 3166-1 alpha-2 code (the message says so, with a hint if one fits)."""


def is_country(code: str) -> bool:
    """True for an upper-case ISO 3166-1 alpha-2 code."""
    return code in ISO_COUNTRIES


def country_code(text: str) -> str:
    """The canonical (upper-case) code of `text`; NotACountry when it is not one."""
    code = text.strip().upper()
    if is_country(code):
        return code
    hint = _COUNTRY_HINTS.get(code)
    extra = f"; did you mean {hint}?" if hint else ""
    if code == "FALSE":
        extra = f" ({_YAML_NO})"
    raise NotACountry(f"{text!r} is not an ISO 3166-1 alpha-2 country code{extra}")
