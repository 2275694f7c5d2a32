#!/usr/bin/env bash
# Train with a ToolRL recipe through verl's own trainer (FSDP or Megatron actor, vLLM rollout, GRPO or PPO):
#
#   bash recipes/run_toolrl.sh [hydra overrides...]
#
# Settings come from the environment (defaults in brackets):
#   RECIPE      toolrl_grpo or toolrl_ppo                                  [toolrl_grpo]
#   MODEL       Hugging Face id or local path of the model to train         [Qwen/Qwen2.5-3B-Instruct]
#   DATA_DIR    folder with train.parquet and test.parquet (data_preprocess) [$HOME/data/toolrl]
#   VAL_SPLIT   the validation parquet's name in DATA_DIR (the multi-turn data: heldout)  [test]
#   N_GPUS      GPUs per node                                              [all GPUs nvidia-smi lists]
#   NNODES      nodes; more than one needs a Ray cluster across them (RAY_ADDRESS) [1]
#   RAY_ADDRESS a running Ray cluster's head (HOST:PORT) to train on, checked first  [unset: a local one]
#   ROLLOUT_TP  vLLM tensor-parallel size                                   [1]
#   OFFLOAD     offload the actor's parameters and optimizer to CPU        [true on one GPU, else false]
#   STRATEGY    the actor's backend: fsdp, or megatron (RECIPE gets its _megatron variant) [fsdp]
#   TP, PP, EP  Megatron's tensor-, pipeline- and expert-parallel sizes (STRATEGY=megatron) [1, 1, 1]
# See docs/multi-node.md for clusters (recipes/cluster/ has Ray job, Slurm and SkyPilot templates).
# Arguments are Hydra overrides, e.g.  reward.reward_kwargs.variant=dynamic  trainer.logger='[console,wandb]'
set -euo pipefail

recipes="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RECIPE="${RECIPE:-toolrl_grpo}"
MODEL="${MODEL:-Qwen/Qwen2.5-3B-Instruct}"
DATA_DIR="${DATA_DIR:-$HOME/data/toolrl}"
VAL_SPLIT="${VAL_SPLIT:-test}"
if [[ -z "${N_GPUS:-}" ]]; then
    N_GPUS="$( (nvidia-smi --list-gpus 2>/dev/null || true) | grep -c '^GPU' || true)"
    (( N_GPUS > 0 )) || N_GPUS=1
fi
NNODES="${NNODES:-1}"
ROLLOUT_TP="${ROLLOUT_TP:-1}"
if [[ -z "${OFFLOAD:-}" ]]; then
    if (( N_GPUS * NNODES == 1 )); then OFFLOAD=true; else OFFLOAD=false; fi
fi
STRATEGY="${STRATEGY:-fsdp}"
case "$STRATEGY" in
    fsdp) backend=(actor_rollout_ref.actor.fsdp_config.param_offload="$OFFLOAD"
                   actor_rollout_ref.actor.fsdp_config.optimizer_offload="$OFFLOAD") ;;
    megatron)
        [[ "$RECIPE" == *_megatron ]] || RECIPE="${RECIPE}_megatron"
        backend=(actor_rollout_ref.actor.megatron.param_offload="$OFFLOAD"
                 actor_rollout_ref.actor.megatron.optimizer_offload="$OFFLOAD"
                 actor_rollout_ref.actor.megatron.tensor_model_parallel_size="${TP:-1}"
                 actor_rollout_ref.actor.megatron.pipeline_model_parallel_size="${PP:-1}"
                 actor_rollout_ref.actor.megatron.expert_model_parallel_size="${EP:-1}") ;;
    *) echo "run_toolrl.sh: STRATEGY=$STRATEGY: unknown; use fsdp or megatron" >&2; exit 2 ;;
esac
if [[ ! -f "$recipes/$RECIPE.yaml" ]]; then
    echo "run_toolrl.sh: RECIPE=$RECIPE: no recipes/$RECIPE.yaml (STRATEGY=megatron has toolrl_grpo_megatron" \
         "and toolrl_multiturn_grpo_megatron)" >&2
    exit 2
fi

# shellcheck source=recipes/common.sh
. "$recipes/common.sh"
require_data run_toolrl.sh "$DATA_DIR" "$VAL_SPLIT"

# Hydra overrides among the arguments (main_ppo's own flags such as --cfg job are left out).
overrides=()
for arg in "$@"; do
    if [[ "$arg" == *=* && "$arg" != -* ]] || [[ "$arg" == "~"* ]]; then overrides+=("$arg"); fi
done
# Fail now, with the real import error or a one-line setting error, rather than as "Unknown reward
# manager" or a traceback after the model loads.
python -m verl_toolrl check --config-name "$RECIPE" --config-path "$recipes" ${overrides[@]+"${overrides[@]}"}

# Training needs what main_ppo imports once Ray is up; say now what is missing (printing the config with
# --cfg or --help needs none of it).
if [[ " $* " != *" --cfg "* && " $* " != *" --help "* && " $* " != *" -h "* ]]; then
    if [[ -n "${RAY_ADDRESS:-}" ]]; then
        # verl joins the cluster (ray.init reads RAY_ADDRESS) and would wait for its nodes without a limit.
        python -m verl_toolrl cluster --address "$RAY_ADDRESS" --nnodes "$NNODES" --gpus-per-node "$N_GPUS"
    elif (( NNODES > 1 )); then
        echo "run_toolrl.sh: NNODES=$NNODES needs a Ray cluster across the nodes: start one (docs/multi-node.md)" \
             "and set RAY_ADDRESS=HEAD:PORT" >&2
        exit 2
    fi
    missing="$(python -c '
import importlib.util
import torch
needs = [] if torch.cuda.is_available() else ["a CUDA GPU (torch sees none)"]
needs += [f"the {name} package" for name in ("vllm", "transfer_queue") if importlib.util.find_spec(name) is None]
print(", ".join(needs))')"
    if [[ -n "$missing" ]]; then
        echo "run_toolrl.sh: cannot train here, missing $missing: training needs a GPU (pip install -e '.[gpu]')," \
             "or the CPU training path (see the README's CPU training section)" >&2
        exit 2
    fi
fi

echo "run_toolrl.sh: $RECIPE on $MODEL, data $DATA_DIR, ${NNODES}x${N_GPUS} GPUs, $STRATEGY actor," \
     "rollout TP $ROLLOUT_TP, offload $OFFLOAD${RAY_ADDRESS:+, Ray cluster $RAY_ADDRESS}"
exec python -m verl.trainer.main_ppo --config-path "$recipes" --config-name "$RECIPE" \
    data.train_files="$DATA_DIR/train.parquet" \
    data.val_files="$DATA_DIR/$VAL_SPLIT.parquet" \
    actor_rollout_ref.model.path="$MODEL" \
    actor_rollout_ref.rollout.tensor_model_parallel_size="$ROLLOUT_TP" \
    "${backend[@]}" \
    trainer.n_gpus_per_node="$N_GPUS" \
    trainer.nnodes="$NNODES" \
    "$@"
