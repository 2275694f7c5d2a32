#!/usr/bin/env bash
# Set up a virtual environment with verl-toolrl and everything its tests and evaluation use.
#   bash recipes/setup.sh            -> ./.venv
#   VENV=/path/to/env bash recipes/setup.sh
# Without a GPU it installs PyTorch's 2.13.0 CPU build first (a bare `torch` requirement would pull a
# multi-GB CUDA build), and then builds the CPU training environment .venv-cpu (recipes/setup_cpu.sh: verl's
# trainer with vLLM's CPU build); with `nvidia-smi` present it adds the `gpu` extra (verl's pinned vLLM stack).
# Each step says what it does before it starts; pip shows what it collects (the whole setup takes
# several minutes on a fresh machine).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv}"
step() { echo "setup: $*" >&2; }
if [ ! -x "$venv/bin/python" ]; then
  step "1/6 creating the virtual environment $venv"
  python3 -m venv "$venv"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
step "2/6 upgrading pip"
python -m pip install -q --upgrade pip
pip_install=(python -m pip install --progress-bar on)
extras="test,eval"
gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
  extras="$extras,gpu"
  gpu=1
  step "3/6 a GPU is visible: verl's vLLM stack comes with the package (a few GB, several minutes)"
else
  step "3/6 no GPU: installing PyTorch's CPU build (torch==2.13.0, about 200 MB)"
  "${pip_install[@]}" torch==2.13.0
fi
step "4/6 installing verl-toolrl with its extras [$extras] and verl 0.9.1 (the longest step: several minutes)"
"${pip_install[@]}" -e ".[$extras]"
# BFCL's data and official checker, without its heavy optional dependencies (see the eval extra).
step "5/6 installing BFCL's data and checker (bfcl-eval, without its optional dependencies)"
"${pip_install[@]}" --no-deps bfcl-eval==2026.3.23
python -c "import verl, verl_toolrl; print('verl', verl.__version__, '+ verl-toolrl ready in $venv')"
if [ "$gpu" = 0 ]; then
  step "6/6 no GPU: building the CPU training environment .venv-cpu (recipes/setup_cpu.sh)"
  bash recipes/setup_cpu.sh
fi
