#!/usr/bin/env bash
# The product installs and imports alone: `pip install .` without extras into a fresh venv (no
# system site-packages), then import the product and run its CLI from outside the source tree.
# Not part of the test run: it installs every dependency afresh (about a minute or more).
# Run: bash scripts/check_install.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Build from a copy, so the source tree gets no build/ or egg-info of its own.
mkdir "$work/src"
tar -C "$root" --exclude=./.venv --exclude=./.git --exclude='*.egg-info' --exclude=./build \
  --exclude='*.db' --exclude=__pycache__ -cf - . | tar -C "$work/src" -xf -
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet "$work/src" 2> >(grep -v "^WARNING: Location" >&2)
cd "$work"
"$work/venv/bin/python" - <<'PY'
import sys

import bot.app, bot.cli, bot.runtime.httpserver  # noqa: E401,F401

unwanted = {"tpu_emulator", "localslack", "devstack", "websockets", "websocket", "selenium"}
loaded = {name.split(".")[0] for name in sys.modules}
assert not loaded & unwanted, loaded & unwanted
PY
for dist in websockets websocket-client selenium; do
  if "$work/venv/bin/pip" show --quiet "$dist" 2>/dev/null; then
    echo "FAIL: $dist is installed without extras" >&2
    exit 1
  fi
done
"$work/venv/bin/tpu-bot" --help >/dev/null
echo "ok: the product installs without extras and imports no stand-in"
