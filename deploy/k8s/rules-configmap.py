#!/usr/bin/env python3
"""Print the smsguard-rules ConfigMap (as JSON, which kubectl reads) for a rules folder.

    python3 deploy/k8s/rules-configmap.py rules/ | kubectl -n smsguard apply -f -
    kubectl -n smsguard rollout restart deployment/smsguard      # pods read rules at start

Every file under the folder (rule files, the list files they name in lists/, rule test cases in
tests/) becomes one key. ConfigMap keys cannot hold "/", so a file's path is encoded with "__"
("lists/test-numbers.txt" -> "lists__test-numbers.txt"); the Deployment's `rules` init container
unpacks the keys back into the folder tree. A rule set that does not load stops the new pods from
starting, so the rollout halts while the old pods keep serving. Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
from pathlib import Path

MAX_BYTES = 1_000_000  # Kubernetes refuses ConfigMaps over 1 MiB (etcd's object limit)
SEPARATOR = "__"  # stands for "/" in a key
PART = re.compile(r"^[-._a-zA-Z0-9]+$")


def key_for(relative: Path) -> str:
    for part in relative.parts:
        if not PART.match(part) or SEPARATOR in part:
            raise ValueError(
                f"{relative}: a name may use only letters, digits, '-', '_', '.' and no '__'"
            )
    return SEPARATOR.join(relative.parts)


def build(folder: Path, name: str, namespace: str | None) -> dict[str, object]:
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    total = 0
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        key = key_for(relative)
        raw = path.read_bytes()
        total += len(raw)
        try:
            data[key] = raw.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(raw).decode("ascii")
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
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
