#!/usr/bin/env bash
# Install the ThingsBoard IoT Gateway, the peer of the modbus-scale benchmark, from PyPI into its
# own venv outside the repository and print the path of that venv's python. Nothing of it is
# committed, and nothing goes into the project's .venv.
#
# Idempotent: a marker file holds what was installed; with the same pins it only prints the path.
# The gateway's Modbus connector pip-installs pymodbus (exactly 3.9.2), pyserial and
# pyserial-asyncio at import time when they are missing; they are installed here so that the
# benchmark never installs anything while it measures (bench/peers/thingsboard.py also runs the
# peer with pip unable to reach an index).
#
# Environment: GERBANG_PEER_DIR (default /tmp/gerbang-peers), GERBANG_PEER_PYTHON (a Python
# 3.10+ interpreter, default python3.11).
set -euo pipefail

TB_VERSION=3.8.5  # the newest release on PyPI when this was written; needs Python >= 3.10
PINS=(
  "thingsboard-gateway==${TB_VERSION}"
  "pymodbus==3.9.2"         # the exact version its Modbus connector insists on
  "pyserial==3.5"
  "pyserial-asyncio==0.6"
)

root="${GERBANG_PEER_DIR:-/tmp/gerbang-peers}/thingsboard"
venv="$root/venv"
marker="$venv/.gerbang-installed"
python="${GERBANG_PEER_PYTHON:-python3.11}"
unset VIRTUAL_ENV PYTHONPATH  # never the project's .venv

if [[ -x "$venv/bin/python" && -f "$marker" && "$(cat "$marker")" == "${PINS[*]}" ]]; then
  echo "$venv/bin/python"
  exit 0
fi

mkdir -p "$root"
rm -rf "$venv"
"$python" -m venv "$venv"
log="$root/install.log"
if ! "$venv/bin/python" -m pip install --disable-pip-version-check "${PINS[@]}" >"$log" 2>&1; then
  echo "thingsboard.sh: pip install failed, see $log" >&2
  tail -20 "$log" >&2
  exit 1
fi
"$venv/bin/python" -c "import thingsboard_gateway, pymodbus, serial, serial_asyncio" >>"$log" 2>&1
echo "${PINS[*]}" >"$marker"
echo "$venv/bin/python"
