#!/usr/bin/env python3
"""Print the smsguard-rules ConfigMap (as JSON, which kubectl reads) for a rules folder.

    python3 deploy/k8s/rules-configmap.py rules/ | kubectl -n smsguard apply -f -

Every regular file directly in the folder (rule files *.yaml and the list files they name) becomes
one key. ConfigMap volumes are flat, so a sub-folder is refused: keep list files next to the rule
files, or build an image with your rules in /etc/smsguard/rules instead. Kubernetes updates the
mounted files in place when the ConfigMap changes; smsguard reloads them (rules.watch), and a bad
rule set never replaces the running one. Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
from pathlib import Path

MAX_BYTES = 1_000_000  # Kubernetes refuses ConfigMaps over 1 MiB (etcd's object limit)
KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def build(folder: Path, name: str, namespace: str | None) -> dict[str, object]:
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    total = 0
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir():
            raise ValueError(
                f"{path}: sub-folders cannot be mounted from a ConfigMap; put its files next to"
                " the rule files, or bake the rules into an image"
            )
        if not KEY.match(path.name):
            raise ValueError(f"{path}: a ConfigMap key allows only letters, digits, '-', '_', '.'")
        raw = path.read_bytes()
        total += len(raw)
        try:
            data[path.name] = raw.decode("utf-8")
        except UnicodeDecodeError:
            binary[path.name] = base64.b64encode(raw).decode("ascii")
    if not data and not binary:
        raise ValueError(f"{folder}: no files")
    if total > MAX_BYTES:
        raise ValueError(f"{folder}: {total} bytes is over a ConfigMap's 1 MiB limit")
    metadata: dict[str, object] = {"name": name, "labels": {"app.kubernetes.io/name": "smsguard"}}
    if namespace:
        metadata["namespace"] = namespace
    configmap: dict[str, object] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
    if data:
        configmap["data"] = data
    if binary:
        configmap["binaryData"] = binary
    return configmap


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the rules folder (e.g. rules/)")
    parser.add_argument("--name", default="smsguard-rules", help="ConfigMap name")
    parser.add_argument("--namespace", default="smsguard", help="namespace ('' for none)")
    args = parser.parse_args(argv)
    try:
        configmap = build(args.folder, args.name, args.namespace or None)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    json.dump(configmap, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
