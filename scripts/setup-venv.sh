#!/usr/bin/env bash
# Create the virtualenv and install the project with its dev extras.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "smsguard needs Python 3.11 or newer; '$python' is $("$python" --version 2>&1)." >&2
  echo "Run: make PYTHON=/path/to/python3.11 ..." >&2
  exit 1
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev,bench]'
