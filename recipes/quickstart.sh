#!/usr/bin/env bash
# The README's quickstart: check the plugin and settings, prepare the data, check the recipe and the reward
# on CPU, then train. On a machine without a GPU it trains on CPU instead (recipes/train_cpu.sh: verl's real
# trainer with a tiny local policy, a few steps, to prove the loop), prints each step's rewards, and exits 0.
#
#   bash recipes/quickstart.sh [hydra overrides...]
#
# Environment (defaults in brackets); recipes/run_toolrl.sh reads the rest (N_GPUS, NNODES, ...):
#   DATA_DIR      where the training data goes                          [$HOME/data/toolrl]
#   TOOLACE_FILE  local ToolACE file for the training mix               [the hub dataset]
#   XLAM_FILE     local xLAM file for the training mix                  [the hub dataset]
#   DATA_ARGS     more options for python -m data_preprocess.mix        []
#   RECIPE        toolrl_grpo or toolrl_ppo                             [toolrl_grpo]
#   MODEL         model to train                    [Qwen/Qwen2.5-3B-Instruct; on CPU the tiny local policy]
# Overrides (e.g. reward.reward_kwargs.variant=dynamic) apply to the checks and to training alike.
set -euo pipefail

recipes="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$recipes/.."
export DATA_DIR="${DATA_DIR:-$HOME/data/toolrl}"
export RECIPE="${RECIPE:-toolrl_grpo}"
cpu_model="${MODEL:-}"  # on CPU: a model given by the user, else train_cpu.sh's tiny local policy
export MODEL="${MODEL:-Qwen/Qwen2.5-3B-Instruct}"

# One quick probe of the hub instead of every tool's retries: offline from here on when it does not answer.
python -m verl_toolrl hub || export HF_HUB_OFFLINE=1

echo "== 1/4 plugin and settings: is the toolrl reward manager registered in verl, are the overrides valid?"
python -m verl_toolrl check --config-name "$RECIPE" "$@"

demo=""
echo "== 2/4 data: the paper's 4k training mix (ToolACE, Hammer, xLAM) -> $DATA_DIR"
if [[ -f "$DATA_DIR/train.parquet" && -f "$DATA_DIR/test.parquet" ]]; then
    echo "already there (delete $DATA_DIR to rebuild it)"
else
    samples="$recipes/../../shared/data/raw_samples"  # the real sample records beside this checkout, if any
    # shellcheck disable=SC2086  # DATA_ARGS is a list of options
    if python -m data_preprocess.mix --output "$DATA_DIR" --seed 0 --skip-invalid \
        ${TOOLACE_FILE:+--toolace "$TOOLACE_FILE"} ${XLAM_FILE:+--xlam "$XLAM_FILE"} ${DATA_ARGS:-}; then
        :
    elif [[ -z "${TOOLACE_FILE:-}${XLAM_FILE:-}" && -f "$samples/toolace.json" && -f "$samples/xlam.json" ]]; then
        full_data_dir="$DATA_DIR"
        export DATA_DIR="$DATA_DIR-samples" HF_HUB_OFFLINE=1  # no more waiting on the hub in later steps
        demo=1
        echo "The hub datasets are out of reach; building a small demo mix from the real sample records in"
        echo "$samples instead, into $DATA_DIR: enough for the checks below, far too small to train on."
        python -m data_preprocess.mix --output "$DATA_DIR" --seed 0 --skip-invalid --demo "$samples"
    else
        exit 1
    fi
fi

echo "== 3/4 recipe and reward: compose $RECIPE, validate it with verl, score the data's ground truths"
python -m verl_toolrl preflight --config-name "$RECIPE" \
    data.train_files="$DATA_DIR/train.parquet" data.val_files="$DATA_DIR/test.parquet" \
    actor_rollout_ref.model.path="$MODEL" "$@"

echo "== 4/4 training"
if ! python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    cpu_recipe="${RECIPE}_cpu"
    if [[ ! -f "$recipes/$cpu_recipe.yaml" ]]; then
        echo "quickstart: RECIPE=$RECIPE has no CPU recipe; without a GPU use RECIPE=toolrl_grpo or toolrl_ppo" >&2
        exit 2
    fi
    run_dir="$DATA_DIR/cpu-run"
    echo "No CUDA device here: training on CPU instead ($cpu_recipe: verl's real trainer, the tiny local policy,"
    echo "a few steps). This proves the training loop and lets you try settings; it does not train a useful model."
    echo "Full log: $run_dir/train.log; each step's metrics (verl's file logger): $run_dir/metrics.jsonl"
    mkdir -p "$run_dir"
    RECIPE="$cpu_recipe" MODEL="$cpu_model" VERL_FILE_LOGGER_PATH="$run_dir/metrics.jsonl" \
        bash "$recipes/train_cpu.sh" \
        trainer.default_local_dir="$run_dir/checkpoints" trainer.rollout_data_dir="$run_dir/rollouts" "$@" \
        > "$run_dir/train.log" 2>&1 &
    trainer=$!
    tail -n +1 --pid="$trainer" -f "$run_dir/train.log" \
        | grep --line-buffered -E "train_cpu.sh|tiny policy|step:[0-9]+ |Error: " | sed -u 's/^\(.\{200\}\).*/\1 .../' || true
    if ! wait "$trainer"; then
        echo "quickstart: CPU training failed; the end of $run_dir/train.log:" >&2
        tail -n 40 "$run_dir/train.log" >&2
        exit 1
    fi
    echo "Training steps on CPU (verl's metrics; format/correctness/exact: the rollouts' mean reward components):"
    python -m verl_toolrl.checks.training_log "$run_dir/metrics.jsonl" --rollouts "$run_dir/rollouts" "$@"
    echo "To train a real model, on a GPU machine run:"
    if [[ -n "$demo" ]]; then
        echo "    python -m data_preprocess.mix --output $full_data_dir --seed 0 --skip-invalid   # with hub access: the full 4k mix"
        echo "    DATA_DIR=$full_data_dir RECIPE=$RECIPE MODEL=$MODEL bash recipes/run_toolrl.sh $*"
    else
        echo "    DATA_DIR=$DATA_DIR RECIPE=$RECIPE MODEL=$MODEL bash recipes/run_toolrl.sh $*"
    fi
    exit 0
fi
if ! python -c "import vllm" 2>/dev/null; then
    echo "A GPU is visible but vLLM is not installed: pip install -e '.[gpu]' (or bash recipes/setup.sh), then re-run." >&2
    exit 1
fi
exec bash "$recipes/run_toolrl.sh" "$@"
