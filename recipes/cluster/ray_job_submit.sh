#!/usr/bin/env bash
# Submit a ToolRL training run to a running Ray cluster (verl's docs/start/multinode.rst: ray job submit with
# a runtime_env), from any machine that reaches the head's dashboard:
#
#   RAY_DASHBOARD=http://HEAD:8265 NNODES=2 N_GPUS=8 DATA_DIR=/shared/data/toolrl \
#       bash recipes/cluster/ray_job_submit.sh [hydra overrides...]
#
# The job's runtime_env (recipes/cluster/runtime_env.yaml) uploads this repository and installs the plugin on
# every node. The job runs recipes/run_toolrl.sh on the head, where Ray sets RAY_ADDRESS: the launcher first
# checks that the cluster has NNODES nodes with N_GPUS GPUs each and the plugin on every one of them
# (python -m verl_toolrl cluster), then starts verl's trainer. DATA_DIR (and MODEL, when a path) must name
# the same files on every node: a shared file system, or the same copy on each.
#
# Environment: RAY_DASHBOARD (required), and run_toolrl.sh's own: RECIPE, MODEL, DATA_DIR, VAL_SPLIT, N_GPUS,
# NNODES, STRATEGY, TP, PP, EP, ROLLOUT_TP, OFFLOAD. Follow the job with: ray job logs --follow JOB_ID
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [[ -z "${RAY_DASHBOARD:-}" ]]; then
    echo "ray_job_submit.sh: set RAY_DASHBOARD=http://HEAD:8265 (the head node's Ray dashboard)" >&2
    exit 2
fi
settings=()
for name in RECIPE MODEL DATA_DIR VAL_SPLIT N_GPUS NNODES STRATEGY TP PP EP ROLLOUT_TP OFFLOAD; do
    if [[ -n "${!name:-}" ]]; then settings+=("$name=${!name}"); fi
done
exec ray job submit --address "$RAY_DASHBOARD" --runtime-env recipes/cluster/runtime_env.yaml \
    -- env ${settings[@]+"${settings[@]}"} bash recipes/run_toolrl.sh "$@"
