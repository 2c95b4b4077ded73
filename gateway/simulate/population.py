"""The raw material of simulated traffic: phone numbers, IP pools, user agents, languages.

Every draw takes a `random.Random`, so a seed reproduces the same traffic. IP pools are plausible,
not authoritative: without a GeoIP database the gateway does not geolocate them anyway, and the
country the simulator claims for an address travels in Auth0's `req.geoip` (Action payload shape).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)

# Where a global consumer app's real users are: 30 countries, weights roughly its sign-ins per
# country (per mille). Nigeria, Indonesia and Pakistan are on the shipped high-risk list and really
# served: the "risky but served" users every static country rule meets.
LEGIT_COUNTRIES: dict[str, int] = {
    "US": 220, "IN": 90, "BR": 70, "GB": 60, "DE": 50, "FR": 40, "MX": 40, "ID": 30, "ES": 30,
    "IT": 30, "CA": 30, "NG": 25, "JP": 20, "TR": 20, "PH": 20, "AU": 20, "KR": 20, "PK": 15,
    "PL": 15, "NL": 15, "VN": 15, "TH": 10, "EG": 10, "CO": 10, "AR": 10, "SA": 10, "ZA": 10,
    "MY": 10, "SE": 10, "CL": 10,
}  # fmt: skip

# Real users' countries that the shipped rules list as high-risk (rules/lists/high-risk-countries).
RISKY_SERVED: frozenset[str] = frozenset({"NG", "ID", "PK"})

# Destinations commonly abused for pumping (high termination fees, few real users).
PUMPING_COUNTRIES: tuple[str, ...] = (
    "UZ", "TJ", "KG", "AZ", "MV", "WS", "TO", "SB", "PG", "TL", "MR", "SL", "GN", "TD", "LB", "MM",
)  # fmt: skip
# Mainstream but expensive destinations that low-and-slow campaigns mix in.
EXPENSIVE_COUNTRIES: tuple[str, ...] = ("ID", "NG", "PK", "PH", "EG", "RU", "BD")

# Premium-rate and shared-cost ranges that phonenumbers knows (for the premium scenario).
PREMIUM_REGIONS: tuple[str, ...] = ("GB", "DE", "FR", "IT", "ES", "AT", "BE", "CH", "AU", "LB")
SHARED_COST_REGIONS: tuple[str, ...] = ("FR", "DE", "ES", "BE", "CH", "AT", "IT", "PL", "AU")

LANGUAGES: dict[str, str] = {
    "US": "en-US", "GB": "en-GB", "DE": "de-DE", "FR": "fr-FR", "BR": "pt-BR", "IN": "en-IN",
    "ES": "es-ES", "IT": "it-IT", "MX": "es-MX", "CA": "en-CA", "AU": "en-AU", "NL": "nl-NL",
    "PL": "pl-PL", "JP": "ja-JP", "TR": "tr-TR", "ID": "id-ID", "PH": "en-PH", "NG": "en-NG",
    "ZA": "en-ZA", "SE": "sv-SE", "AR": "es-AR", "RU": "ru-RU", "UZ": "uz-UZ", "EG": "ar-EG",
    "KR": "ko-KR", "VN": "vi-VN", "TH": "th-TH", "CO": "es-CO", "SA": "ar-SA", "MY": "ms-MY",
    "CL": "es-CL", "PK": "ur-PK", "HK": "zh-HK", "BD": "bn-BD",
}  # fmt: skip

# First octets per country, used as "residential ISP" space: synthetic, each /8 in one country
# only, and none inside the hosting blocks below (so simulated GeoIP databases are unambiguous).
RESIDENTIAL_OCTETS: dict[str, tuple[int, ...]] = {
    "US": (24, 67, 68, 71, 73, 75, 76, 98, 99, 174), "GB": (81, 82, 86, 109), "DE": (79, 84, 87),
    "FR": (80, 88, 90), "BR": (177, 179, 189, 201), "IN": (49, 106, 117, 223), "ES": (83, 85),
    "IT": (93, 151), "MX": (187, 200), "CA": (70, 142), "AU": (101, 110), "NL": (77, 94),
    "PL": (31, 89), "JP": (126, 153), "TR": (78, 176), "ID": (36, 114), "PH": (112, 124),
    "NG": (102, 105), "ZA": (41, 196), "SE": (92, 213), "AR": (181, 186), "RU": (5, 46),
    "EG": (156, 197), "PK": (39, 119), "BD": (103, 202), "KR": (121, 211), "VN": (113, 171),
    "TH": (182, 184), "CO": (190, 191), "SA": (188, 212), "MY": (175, 180), "CL": (183,),
    "UZ": (37, 195), "TJ": (217,), "KG": (62,), "AZ": (185,), "MM": (122,), "LB": (194,),
    "HK": (58, 218),
}  # fmt: skip


@dataclass(frozen=True)
class HostingNetwork:
    """A hosting provider's address space as /16s (one ASN, one country)."""

    asn: int
    org: str
    country: str
    blocks: tuple[str, ...]  # "a.b" of each /16


HOSTING: tuple[HostingNetwork, ...] = (
    HostingNetwork(16509, "Amazon", "US", ("3.84", "18.204", "54.90", "52.14")),
    HostingNetwork(14061, "DigitalOcean", "NL", ("159.89", "167.99", "178.62", "134.209")),
    HostingNetwork(24940, "Hetzner", "DE", ("95.216", "116.203", "135.181")),
    HostingNetwork(16276, "OVH", "FR", ("51.68", "51.75", "54.36")),
    HostingNetwork(20473, "Vultr", "SG", ("45.32", "45.76", "149.28")),
    HostingNetwork(396982, "Google Cloud", "US", ("34.72", "35.184")),
)

# Where commercial VPNs rent their exits: hosting ASNs, so GeoIP flags them as hosting/anonymous.
# Real users reach the app through them as often as attackers do.
VPN_EXITS: tuple[HostingNetwork, ...] = (
    HostingNetwork(9009, "M247", "RO", ("146.70", "193.27")),
    HostingNetwork(60068, "Datacamp", "GB", ("143.244", "138.199")),
    HostingNetwork(60781, "Leaseweb", "NL", ("209.58", "192.96")),
)

BROWSER_AGENTS: tuple[tuple[str, int], ...] = (
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.5 Mobile/15E148 Safari/604.1", 28),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/18.1 Mobile/15E148 Safari/604.1", 10),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Mobile Safari/537.36", 28),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", 14),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.6 Safari/605.1.15", 5),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", 5),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", 5),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 4),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 1),
    ("Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", 5),
)  # fmt: skip

SCRIPTED_AGENTS: tuple[str, ...] = (
    "python-requests/2.32.3",
    "curl/8.7.1",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "axios/1.7.7",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36",
)


def weighted(rng: random.Random, table: dict[str, int]) -> str:
    return rng.choices(list(table), weights=list(table.values()))[0]


def browser_agent(rng: random.Random) -> str:
    return rng.choices([ua for ua, _ in BROWSER_AGENTS], weights=[w for _, w in BROWSER_AGENTS])[0]


def accept_language(country: str) -> str:
    """An Accept-Language value for a browser set up in `country` (English as the fallback)."""
    primary = LANGUAGES.get(country, "en-US")
    lang = primary.split("-")[0]
    if lang == "en":
        return f"{primary},en;q=0.9"
    return f"{primary},{lang};q=0.9,en;q=0.8"


# --- numbers -----------------------------------------------------------------------------------


def is_mobile(number: phonenumbers.PhoneNumber, region: str | None = None) -> bool:
    """A valid mobile (in `region` when given: calling codes such as +1 span countries)."""
    return (
        phonenumbers.is_valid_number(number)
        and phonenumbers.number_type(number) in MOBILE_TYPES
        and (region is None or phonenumbers.region_code_for_number(number) == region)
    )


def e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _with_nsn(template: phonenumbers.PhoneNumber, nsn: str) -> phonenumbers.PhoneNumber:
    return phonenumbers.parse(f"+{template.country_code}{nsn}", None)


def random_of_type(
    rng: random.Random, region: str, kind: int, *, keep: int = 1, attempts: int = 40
) -> str:
    """A valid number of `kind` (a PhoneNumberType) in `region`: phonenumbers' example number
    with its digits after the first `keep` randomised (more kept, up to all but 3, until valid)."""
    example = phonenumbers.example_number_for_type(region, kind)
    if example is None:
        raise ValueError(f"phonenumbers has no {kind} example for {region}")
    nsn = phonenumbers.national_significant_number(example)
    wanted = MOBILE_TYPES if kind in MOBILE_TYPES else (kind,)
    for kept in range(min(keep, len(nsn) - 3), len(nsn) - 2):
        for _ in range(attempts):
            tail = "".join(rng.choice("0123456789") for _ in range(len(nsn) - kept))
            candidate = _with_nsn(example, nsn[:kept] + tail)
            if (
                phonenumbers.is_valid_number(candidate)
                and phonenumbers.number_type(candidate) in wanted
                # +1 and +44 are shared: a "US" number must not land in Barbados or Jersey.
                and phonenumbers.region_code_for_number(candidate) == region
            ):
                return e164(candidate)
    return e164(example)


def random_mobile(rng: random.Random, region: str) -> str:
    """A valid mobile number (MOBILE, or FIXED_LINE_OR_MOBILE where the plan cannot tell)."""
    return random_of_type(rng, region, PhoneNumberType.MOBILE, keep=1)


def consecutive_mobiles(rng: random.Random, region: str, count: int) -> list[str]:
    """`count` consecutive valid mobiles in one prefix (all digits but the last 3 or 4 shared)."""
    seed = phonenumbers.parse(random_mobile(rng, region), None)
    nsn = phonenumbers.national_significant_number(seed)
    tail = 3 if count <= 900 else 4
    base = int(nsn[:-tail]) * 10**tail
    start = rng.randrange(0, max(1, 10**tail - count * 11 // 10))
    found: list[str] = []
    value = base + start
    while len(found) < count and value < base + 10**tail:
        candidate = _with_nsn(seed, str(value).zfill(len(nsn)))
        if is_mobile(candidate, region):
            found.append(e164(candidate))
        value += 1
    return found


def numbers_in_prefix(rng: random.Random, region: str, count: int) -> list[str]:
    """A few valid mobiles sharing all digits but the last 4 (not consecutive)."""
    seed = phonenumbers.parse(random_mobile(rng, region), None)
    nsn = phonenumbers.national_significant_number(seed)
    found: set[str] = set()
    for _ in range(count * 20):
        candidate = _with_nsn(seed, nsn[:-4] + f"{rng.randrange(10_000):04d}")
        if is_mobile(candidate, region):
            found.add(e164(candidate))
        if len(found) >= count:
            break
    return sorted(found)


def national_prefix(rng: random.Random, region: str, digits: int) -> tuple[str, str]:
    """(calling code, first `digits` national digits) of a random valid mobile of `region`."""
    seed = phonenumbers.parse(random_mobile(rng, region), None)
    nsn = phonenumbers.national_significant_number(seed)
    return str(seed.country_code), nsn[:digits] + "|" + str(len(nsn))


def mobile_in_prefix(rng: random.Random, prefix: tuple[str, str], attempts: int = 40) -> str:
    """A valid mobile starting with the national `prefix` (from `national_prefix`)."""
    calling, spec = prefix
    head, length = spec.split("|")
    candidate = f"+{calling}{head}"
    for _ in range(attempts):
        tail = "".join(rng.choice("0123456789") for _ in range(int(length) - len(head)))
        candidate = f"+{calling}{head}{tail}"
        if is_mobile(phonenumbers.parse(candidate, None)):
            return candidate
    return candidate


def mistype(rng: random.Random, number: str) -> str:
    """`number` as a hurried user types it: a digit dropped (mostly invalid) or one changed
    (often someone else's valid number)."""
    digits = number[1:]
    at = rng.randrange(len(digits) - 6, len(digits))
    if rng.random() < 0.5:
        return "+" + digits[:at] + digits[at + 1 :]
    other = rng.choice([d for d in "0123456789" if d != digits[at]])
    return "+" + digits[:at] + other + digits[at + 1 :]


def number_type_name(number: str) -> str:
    parsed = phonenumbers.parse(number, None)
    if not phonenumbers.is_valid_number(parsed):
        return "INVALID"
    kind = phonenumbers.number_type(parsed)
    names = {v: k for k, v in vars(PhoneNumberType).items() if k.isupper() and isinstance(v, int)}
    return names.get(kind, "UNKNOWN")


def region_of(number: str) -> str | None:
    region = phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
    return None if region in (None, "ZZ", "001") else region


# --- addresses ---------------------------------------------------------------------------------


def residential_ip(rng: random.Random, country: str) -> str:
    octets = RESIDENTIAL_OCTETS.get(country) or RESIDENTIAL_OCTETS["US"]
    return _host(rng, rng.choice(octets), rng.randrange(256), rng.randrange(256))


def _host(rng: random.Random, a: int, b: int, c: int) -> str:
    return str(ipaddress.IPv4Address(f"{a}.{b}.{c}.{rng.randrange(1, 255)}"))


def carrier_nat_nets(rng: random.Random, country: str, count: int) -> list[str]:
    """`count` /24s (as "a.b.c") standing for a mobile carrier's NAT gateways in `country`."""
    octets = RESIDENTIAL_OCTETS.get(country) or RESIDENTIAL_OCTETS["US"]
    return [f"{rng.choice(octets)}.{rng.randrange(256)}.{rng.randrange(256)}" for _ in range(count)]


def ip_in_net(rng: random.Random, net: str) -> str:
    a, b, c = (int(x) for x in net.split("."))
    return _host(rng, a, b, c)


def hosting_nets(
    rng: random.Random, networks: Sequence[HostingNetwork], count: int
) -> list[tuple[str, HostingNetwork]]:
    """`count` distinct /24s (as "a.b.c") spread over the given providers."""
    nets: dict[str, HostingNetwork] = {}
    while len(nets) < count:
        provider = rng.choice(list(networks))
        nets[f"{rng.choice(provider.blocks)}.{rng.randrange(256)}"] = provider
    return list(nets.items())
