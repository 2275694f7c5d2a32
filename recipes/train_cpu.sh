#!/usr/bin/env bash
# Train on CPU, without a GPU: verl 0.9.1's real trainer (FSDP2 actor, vLLM rollout server, the toolrl reward,
# GRPO update, weight sync) with the tiny local policy, for a few steps. It proves the loop and lets one try
# settings; it does not train a useful model (train on a GPU with recipes/run_toolrl.sh for that).
#
#   bash recipes/train_cpu.sh [hydra overrides...]      e.g. reward.reward_kwargs.variant=dynamic
#
# Environment (defaults in brackets):
#   DATA_DIR   folder with train.parquet and test.parquet (data_preprocess)   [$HOME/data/toolrl]
#   VAL_SPLIT  the validation parquet's name in DATA_DIR (the multi-turn data: heldout)       [test]
#   RECIPE     toolrl_grpo_cpu, toolrl_ppo_cpu or toolrl_multiturn_grpo_cpu   [toolrl_grpo_cpu]
#   MODEL      model to train                                [DATA_DIR/tiny-policy, built here when missing]
#   CPU_VENV   the CPU training environment (recipes/setup_cpu.sh)            [.venv-cpu]
#   VERL_FILE_LOGGER_PATH  where verl's file logger writes each step's metrics, one JSON line a step
#              (read back by python -m verl_toolrl.checks.training_log)          [DATA_DIR/RECIPE.metrics.jsonl]
#              Joined to a Ray cluster started elsewhere, give it in the job's runtime_env too
#              (+ray_kwargs.ray_init.runtime_env.env_vars={VERL_PLATFORM:cpu,VERL_FILE_LOGGER_PATH:PATH}):
#              this shell's environment reaches only the driver (docs/multi-node.md).
set -euo pipefail

recipes="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$recipes/.."
DATA_DIR="${DATA_DIR:-$HOME/data/toolrl}"
VAL_SPLIT="${VAL_SPLIT:-test}"
RECIPE="${RECIPE:-toolrl_grpo_cpu}"
CPU_VENV="${CPU_VENV:-.venv-cpu}"

if [[ "$RECIPE" != *_cpu || ! -f "$recipes/$RECIPE.yaml" ]]; then
    echo "train_cpu.sh: RECIPE=$RECIPE is not a CPU recipe; use toolrl_grpo_cpu, toolrl_ppo_cpu or toolrl_multiturn_grpo_cpu" >&2
    exit 2
fi
if [[ ! -x "$CPU_VENV/bin/python" ]] || ! "$CPU_VENV/bin/python" -c "import vllm, verl_toolrl" 2>/dev/null; then
    echo "train_cpu.sh: the CPU training environment $CPU_VENV is not built; run: bash recipes/setup_cpu.sh" >&2
    exit 2
fi
# shellcheck source=recipes/common.sh
. "$recipes/common.sh"
require_data train_cpu.sh "$DATA_DIR" "$VAL_SPLIT"
if [[ -z "${MODEL:-}" ]]; then
    MODEL="$DATA_DIR/tiny-policy"
    if [[ ! -f "$MODEL/config.json" ]]; then
        echo "train_cpu.sh: building the tiny local policy in $MODEL (tokenizer trained on the data, 2-layer Qwen2, warm start)"
        "$CPU_VENV/bin/python" -m verl_toolrl.cpu.tiny_policy --data "$DATA_DIR/train.parquet" \
            --extra-text "$DATA_DIR/$VAL_SPLIT.parquet" --output "$MODEL"
    fi
elif [[ ! -e "$MODEL/config.json" ]]; then
    echo "train_cpu.sh: MODEL=$MODEL has no config.json: give a local model folder (save_pretrained), or leave" \
         "MODEL unset to build the tiny local policy" >&2
    exit 2
fi

echo "train_cpu.sh: $RECIPE on $MODEL, data $DATA_DIR, CPU platform (VERL_PLATFORM=cpu)"
export VERL_PLATFORM=cpu HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
# verl's file logger (trainer.logger in recipes/toolrl/cpu.yaml) takes its path from this variable only; without
# it, verl writes to ./<project>/<experiment>.jsonl, inside the checkout.
export VERL_FILE_LOGGER_PATH="${VERL_FILE_LOGGER_PATH:-$DATA_DIR/$RECIPE.metrics.jsonl}"
mkdir -p "$(dirname "$VERL_FILE_LOGGER_PATH")"  # verl opens the file, not its folder
echo "train_cpu.sh: step metrics -> $VERL_FILE_LOGGER_PATH"
# The CPU recipe declares one fake Ray GPU for verl's placement; Ray refuses it under an empty CUDA_VISIBLE_DEVICES
# (as set to hide GPUs), and no process here uses CUDA.
unset CUDA_VISIBLE_DEVICES
exec "$CPU_VENV/bin/python" -m verl.trainer.main_ppo --config-path "$recipes" --config-name "$RECIPE" \
    data.train_files="$DATA_DIR/train.parquet" \
    data.val_files="$DATA_DIR/$VAL_SPLIT.parquet" \
    actor_rollout_ref.model.path="$MODEL" \
    "$@"
