#!/usr/bin/env bash
# Creates .venv and installs mmvc into it. The CPU build of torch goes in first so that
# resolving mmvc's own `torch` requirement finds it satisfied instead of pulling a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
if ! .venv/bin/python -c 'import torch' >/dev/null 2>&1; then
  .venv/bin/python -m pip install --quiet "torch==2.13.0" \
    || .venv/bin/python -m pip install --quiet --index-url https://download.pytorch.org/whl/cpu torch
fi
.venv/bin/python -m pip install --quiet -e ".${1:-[test]}"
