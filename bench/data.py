"""Everything the benchmark feeds the gateway, generated deterministically (seeded) and cached.

- request bodies for three workloads (attack, clean, mix), one JSON body per line;
- a 1,000,000-entry CIDR list and a 100,000-entry prefix list, plus the extra rules using them;
- GeoIP databases (country, ASN, anonymous-IP) written with tests/geoip_fixtures.py;
- the rules folder: the shipped rules/ copied, velocity limits made benchmark-safe (see
  `bench_rules`), and the bench rules file added.

Address plan (nothing the workloads send is on a generated list):
    198.18.0.0/15   clean traffic (RFC 2544 benchmark range): GB, AS64500 residential
    203.0.113.0/24  attack traffic: GB, AS64501
    100.64.0.0/10   in the anonymous-IP database (hosting)
    1.0.0.0-99.255.255.255 and 2a0b::/32   the generated CIDR list
"""

from __future__ import annotations

import ipaddress
import json
import random
import shutil
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SEED = 20261122
UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
BODY_TEXT = "Your verification code is: {code}"
CLEAN_NET = ipaddress.ip_network("198.18.0.0/15")
ATTACK_NET = ipaddress.ip_network("203.0.113.0/24")
# Country calling codes the generated prefix list uses; none is +44 (the workloads' numbers).
RISKY_CODES = ("232", "252", "880", "992", "998", "371", "855", "225", "234", "960", "675", "882")
# Velocity keys that single out one phone number: their limits are kept as shipped.
RECIPIENT_KEYS = frozenset({"recipient", "phone.e164"})
RAISED_LIMIT = 1_000_000_000


@dataclass(frozen=True)
class Sizes:
    cidrs: int = 1_000_000
    prefixes: int = 100_000
    clean_numbers: int = 200_000
    attack_numbers: int = 4

    def tag(self) -> str:
        return f"c{self.cidrs}-p{self.prefixes}-n{self.clean_numbers}-a{self.attack_numbers}"


def _gb_mobile_blocks(rng: random.Random, want: int) -> list[str]:
    """Six-digit GB mobile blocks ('4474xx') whose numbers phonenumbers calls valid MOBILE."""
    import phonenumbers

    blocks: list[str] = []
    for head in range(7400, 8000):
        for tail in range(0, 100, 7):
            block = f"44{head}{tail:02d}"[:8]
            ok = True
            for _ in range(3):
                n = phonenumbers.parse(f"+{block}{rng.randrange(10**4):04d}", None)
                if not (
                    phonenumbers.is_valid_number(n)
                    and phonenumbers.number_type(n) == phonenumbers.PhoneNumberType.MOBILE
                ):
                    ok = False
                    break
            if ok:
                blocks.append(block)
            if len(blocks) >= want:
                return blocks
    return blocks


def _ipv4(n: int) -> str:
    return socket.inet_ntoa(struct.pack("!I", n))


def _payload(recipient: str, ip: str, code: int) -> str:
    return json.dumps(
        {
            "recipient": recipient,
            "body": BODY_TEXT.format(code=f"{code:06d}"),
            "sender": "+15005550006",
            "req": {"ip": ip, "user-agent": UA, "x-request-language": "en-GB,en;q=0.9"},
        },
        separators=(",", ":"),
    )


def write_bodies(out: Path, sizes: Sizes) -> dict[str, Path]:
    """clean.jsonl (distinct numbers and IPs), attack.jsonl (a few numbers), mix.jsonl (1:1)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.jsonl" for name in ("clean", "attack", "mix")}
    if all(p.exists() for p in paths.values()):
        return paths
    rng = random.Random(SEED)
    blocks = _gb_mobile_blocks(rng, 64)
    if len(blocks) < 4:
        raise RuntimeError("phonenumbers metadata gave no GB mobile blocks for the workloads")
    numbers: set[str] = set()
    while len(numbers) < sizes.clean_numbers:
        numbers.add(f"+{rng.choice(blocks)}{rng.randrange(10**4):04d}")
    clean_numbers = sorted(numbers)
    rng.shuffle(clean_numbers)
    base = int(CLEAN_NET.network_address)
    clean_ips = [
        _ipv4(base + 1 + rng.randrange(CLEAN_NET.num_addresses - 2)) for _ in clean_numbers
    ]
    clean = [
        _payload(n, ip, rng.randrange(10**6))
        for n, ip in zip(clean_numbers, clean_ips, strict=True)
    ]
    attack_block = blocks[-1]
    attack_numbers = [f"+{attack_block}{i:04d}" for i in range(1, sizes.attack_numbers + 1)]
    attack_base = int(ATTACK_NET.network_address)
    attack = [
        _payload(attack_numbers[i % len(attack_numbers)], _ipv4(attack_base + 10 + i % 3), i)
        for i in range(1000)
    ]
    # The mix needs distinct clean numbers too: interleave attack bodies with the clean pool.
    mix = []
    for i, line in enumerate(clean[len(clean) // 2 :]):
        mix.append(attack[i % len(attack)])
        mix.append(line)
    for name, lines in (("clean", clean), ("attack", attack), ("mix", mix)):
        paths[name].write_text("\n".join(lines) + "\n")
    return paths


def write_lists(out: Path, sizes: Sizes) -> tuple[Path, Path]:
    """bench-cidrs.txt (IPv4 /32, /28, /24 and IPv6 /48, random) and bench-prefixes.txt."""
    out.mkdir(parents=True, exist_ok=True)
    cidr_path, prefix_path = out / "bench-cidrs.txt", out / "bench-prefixes.txt"
    if cidr_path.exists() and prefix_path.exists():
        return cidr_path, prefix_path
    rng = random.Random(SEED + 1)
    lo, hi = 0x01000000, 0x63FFFFFF  # 1.0.0.0 .. 99.255.255.255
    lines = ["# generated by bench/data.py: not real threat data"]
    v6 = sizes.cidrs // 20
    for _ in range(sizes.cidrs - v6):
        r = rng.random()
        n = rng.randint(lo, hi)
        if r < 0.7:
            lines.append(_ipv4(n))
        elif r < 0.9:
            lines.append(f"{_ipv4(n & 0xFFFFFFF0)}/28")
        else:
            lines.append(f"{_ipv4(n & 0xFFFFFF00)}/24")
    for _ in range(v6):
        lines.append(f"2a0b:{rng.randrange(1 << 16):x}:{rng.randrange(1 << 16):x}::/48")
    cidr_path.write_text("\n".join(lines) + "\n")
    prefixes: set[str] = set()
    while len(prefixes) < sizes.prefixes:
        code = rng.choice(RISKY_CODES)
        prefixes.add(code + "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 6))))
    prefix_path.write_text("\n".join(sorted(prefixes)) + "\n")
    return cidr_path, prefix_path


def write_geoip(out: Path, filler_networks: int = 2000) -> dict[str, Path]:
    """Country, ASN and anonymous-IP databases covering the address plan (plus filler networks)."""
    from tests.geoip_fixtures import write_anonymous_db, write_asn_db, write_country_db

    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "country_db": out / "country.mmdb",
        "asn_db": out / "asn.mmdb",
        "anonymous_db": out / "anonymous.mmdb",
    }
    if all(p.exists() for p in paths.values()):
        return paths
    rng = random.Random(SEED + 2)
    countries = ["US", "DE", "FR", "NG", "IN", "BR", "ID", "PK", "BD", "RU"]
    filler = {
        f"{rng.randint(1, 99)}.{rng.randint(0, 255)}.0.0/16": rng.choice(countries)
        for _ in range(filler_networks)
    }
    write_country_db(paths["country_db"], {**filler, str(CLEAN_NET): "GB", str(ATTACK_NET): "GB"})
    asns = {net: (60000 + i, f"Filler AS {i}") for i, net in enumerate(filler)}
    write_asn_db(
        paths["asn_db"],
        {
            **asns,
            str(CLEAN_NET): (64500, "Bench Broadband"),
            str(ATTACK_NET): (64501, "Bench Mobile"),
        },
    )
    write_anonymous_db(
        paths["anonymous_db"],
        {"100.64.0.0/10": {"is_hosting_provider": True}, "192.0.2.0/24": {"is_public_proxy": True}},
    )
    return paths


BENCH_RULES = """\
# Added by the benchmark: the big lists, checked on every request (no workload matches them).
lists:
  bench-networks: {{kind: cidr, file: {cidr_file}, description: generated {cidrs} CIDRs}}
  bench-prefixes: {{kind: prefix, file: {prefix_file}, description: generated {prefixes} prefixes}}
rules:
  - id: bench-networks
    description: benchmark CIDR list ({cidrs} entries)
    conditions: {{signal: ip, list: bench-networks}}
    action: block
  - id: bench-prefixes
    description: benchmark prefix list ({prefixes} entries)
    conditions: {{signal: phone.e164, list: bench-prefixes}}
    action: block
"""

RECIPIENT_RULE = """\
  - id: bench-recipient
    description: benchmark per-number limit (the shipped rules have none)
    velocity: {key: [recipient], limits: [{max: 3, per: 10m}]}
    action: block
"""


def _is_recipient_key(key: Any) -> bool:
    keys = [key] if isinstance(key, str) else key
    return isinstance(keys, list) and any(str(k) in RECIPIENT_KEYS for k in keys)


def bench_rules(
    shipped: Path, out: Path, cidr_file: Path, prefix_file: Path, sizes: Sizes
) -> dict[str, Any]:
    """Copy the shipped rules into `out` and add the bench lists; say what was changed.

    Velocity limits keyed on the phone number are kept: the attack workload (a few numbers)
    trips them, the clean workload (a distinct number per request) does not. Every other limit
    (global, country, prefix, IP, network, ASN ...) is raised to 1e9 so the clean and mixed
    workloads, which send thousands of messages a second from one country and one AS, are not
    refused by them; those counters are still checked and updated in Redis on every request.
    """
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    changed: list[str] = []
    has_recipient = False
    rule_files = []
    if shipped.is_dir():
        for item in shipped.iterdir():
            if item.is_dir():
                shutil.copytree(item, out / item.name)
            elif item.suffix not in (".yaml", ".yml"):
                shutil.copy2(item, out / item.name)
        rule_files = sorted(p for p in shipped.iterdir() if p.suffix in (".yaml", ".yml"))
    for path in rule_files:
        data = yaml.safe_load(path.read_text())
        for rule in (data or {}).get("rules", []) or []:
            vel = rule.get("velocity") if isinstance(rule, dict) else None
            if not isinstance(vel, dict):
                continue
            if _is_recipient_key(vel.get("key")):
                has_recipient = True
                continue
            for limit in vel.get("limits", []) or []:
                if isinstance(limit, dict) and "max" in limit:
                    limit["max"] = RAISED_LIMIT
                    changed.append(str(rule.get("id")))
        (out / path.name).write_text(yaml.safe_dump(data, sort_keys=False))
    lists_dir = out / "lists"
    lists_dir.mkdir(exist_ok=True)
    for src in (cidr_file, prefix_file):
        target = lists_dir / src.name
        target.unlink(missing_ok=True)
        shutil.copyfile(src, target)  # a copy: the reload test appends to it
    text = BENCH_RULES.format(
        cidr_file=f"lists/{cidr_file.name}",
        prefix_file=f"lists/{prefix_file.name}",
        cidrs=sizes.cidrs,
        prefixes=sizes.prefixes,
    )
    if not has_recipient:
        text += RECIPIENT_RULE
    (out / "zz-bench.yaml").write_text(text)
    return {
        "shipped_rule_files": [p.name for p in rule_files],
        "raised_limits": sorted(set(changed)),
        "added_recipient_rule": not has_recipient,
        "cidr_list": str(lists_dir / cidr_file.name),
    }


def write_settings(
    path: Path,
    *,
    port: int,
    workers: int,
    redis_url: str,
    secret: str,
    rules: Path,
    geoip: dict[str, Path],
    twilio_url: str,
    log_level: str = "info",
) -> Path:
    data = {
        "server": {"host": "127.0.0.1", "port": port, "workers": workers},
        "redis": {"url": redis_url},
        "auth0": {"gateway_secret": secret},
        "rules": {"path": str(rules), "watch": False},
        "geoip": {k: str(v) for k, v in geoip.items()},
        "logging": {"level": log_level, "format": "json", "phone_hash_key": "bench-hash-key"},
        "providers": [
            {
                "name": "twilio",
                "type": "twilio",
                "base_url": twilio_url,
                "account_sid": "AC" + "0" * 31 + "1",
                "auth_token": "bench-token",
                "from": "+15005550006",
            }
        ],
        "routes": {"default": ["twilio"]},
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# Variants of the smsguard set-up for the ablation runs: what one part costs inside the server.
VARIANTS = {
    "full": "as benchmarked",
    "no-request-log": "logging.level: warning (no per-request log line)",
    "no-velocity": "rules without velocity limits (no Redis on the decision path)",
    "no-big-lists": "without the generated 1M CIDR / 100k prefix lists and their rules",
}


def variant_rules(rules: Path, out: Path, variant: str) -> Path:
    """A copy of the bench rules folder for `variant` (the folder itself for most variants)."""
    if variant not in ("no-velocity", "no-big-lists"):
        return rules
    if out.exists():
        shutil.rmtree(out)
    ignore = (
        shutil.ignore_patterns("zz-bench.yaml", "bench-*.txt")
        if variant == "no-big-lists"
        else None
    )
    shutil.copytree(rules, out, ignore=ignore)
    if variant == "no-velocity":
        for path in out.glob("*.yaml"):
            data = yaml.safe_load(path.read_text()) or {}
            kept = [r for r in data.get("rules", []) or [] if "velocity" not in r]
            if "rules" in data:
                data["rules"] = kept
            path.write_text(yaml.safe_dump(data, sort_keys=False))
    return out
