#!/usr/bin/env bash
# Creates benchmarks/.venv-peers holding the peers (DVC, Oxen's Python API) that
# bench_store.py runs beside mmvc. It is a venv of its own so the peers' many
# dependencies never change what mmvc's .venv resolves to.
# Idempotent: an existing venv is reused and pip only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -x .venv-peers/bin/python ] || "$PY" -m venv .venv-peers
.venv-peers/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
.venv-peers/bin/python -m pip install --quiet -r requirements.txt
echo "dvc $(.venv-peers/bin/dvc --version)"
.venv-peers/bin/python -c 'import oxen; print("oxenai", oxen.__version__)'
