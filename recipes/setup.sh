#!/usr/bin/env bash
# Set up a virtual environment with verl-toolrl and everything its tests and evaluation use.
#   bash recipes/setup.sh            -> ./.venv
#   VENV=/path/to/env bash recipes/setup.sh
# Without a GPU it installs PyTorch's 2.13.0 CPU build first (a bare `torch` requirement would pull a
# multi-GB CUDA build); with `nvidia-smi` present it adds the `gpu` extra (verl's pinned vLLM stack).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
python -m pip install -q --upgrade pip
extras="test,eval"
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
  extras="$extras,gpu"
else
  python -m pip install -q torch==2.13.0
fi
python -m pip install -q -e ".[$extras]"
# BFCL's data and official checker, without its heavy optional dependencies (see the eval extra).
python -m pip install -q --no-deps bfcl-eval==2026.3.23
python -c "import verl, verl_toolrl; print('verl', verl.__version__, '+ verl-toolrl ready in $venv')"
