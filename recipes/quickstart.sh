#!/usr/bin/env bash
# The README's quickstart: prepare the data, check the plugin, check the recipe and the reward on CPU,
# then train. On a machine without a GPU it does every step but the last, says so, and exits 0.
#
#   bash recipes/quickstart.sh [hydra overrides...]
#
# Environment (defaults in brackets); recipes/run_toolrl.sh reads the rest (N_GPUS, NNODES, ...):
#   DATA_DIR      where the training data goes                          [$HOME/data/toolrl]
#   TOOLACE_FILE  local ToolACE file for the training mix               [the hub dataset]
#   XLAM_FILE     local xLAM file for the training mix                  [the hub dataset]
#   DATA_ARGS     more options for python -m data_preprocess.mix        []
#   RECIPE        toolrl_grpo or toolrl_ppo                             [toolrl_grpo]
#   MODEL         model to train                                        [Qwen/Qwen2.5-3B-Instruct]
# Overrides (e.g. reward.reward_kwargs.variant=dynamic) apply to the checks and to training alike.
set -euo pipefail

recipes="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$recipes/.."
export DATA_DIR="${DATA_DIR:-$HOME/data/toolrl}"
export RECIPE="${RECIPE:-toolrl_grpo}"
export MODEL="${MODEL:-Qwen/Qwen2.5-3B-Instruct}"

echo "== 1/4 data: the paper's 4k training mix (ToolACE, Hammer, xLAM) -> $DATA_DIR"
if [[ -f "$DATA_DIR/train.parquet" && -f "$DATA_DIR/test.parquet" ]]; then
    echo "already there (delete $DATA_DIR to rebuild it)"
else
    # shellcheck disable=SC2086  # DATA_ARGS is a list of options
    python -m data_preprocess.mix --output "$DATA_DIR" --seed 0 --skip-invalid \
        ${TOOLACE_FILE:+--toolace "$TOOLACE_FILE"} ${XLAM_FILE:+--xlam "$XLAM_FILE"} ${DATA_ARGS:-}
fi

echo "== 2/4 plugin: is the toolrl reward manager registered in verl?"
python -m verl_toolrl check

echo "== 3/4 recipe and reward: compose $RECIPE, validate it with verl, score the data's ground truths"
python -m verl_toolrl preflight --config-name "$RECIPE" \
    data.train_files="$DATA_DIR/train.parquet" data.val_files="$DATA_DIR/test.parquet" \
    actor_rollout_ref.model.path="$MODEL" "$@"

echo "== 4/4 training"
if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "Training needs a GPU (and vLLM: pip install -e '.[gpu]'): no CUDA device is visible here, so this"
    echo "quickstart stops after the CPU checks above, all of which passed. On a GPU machine, run:"
    echo "    DATA_DIR=$DATA_DIR RECIPE=$RECIPE MODEL=$MODEL bash recipes/run_toolrl.sh $*"
    exit 0
fi
if ! python -c "import vllm" 2>/dev/null; then
    echo "A GPU is visible but vLLM is not installed: pip install -e '.[gpu]' (or bash recipes/setup.sh), then re-run." >&2
    exit 1
fi
exec bash "$recipes/run_toolrl.sh" "$@"
