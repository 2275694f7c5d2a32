# Shell helpers shared by the launchers (recipes/run_toolrl.sh, recipes/train_cpu.sh); sourced, not run.

# require_data LAUNCHER DATA_DIR [VAL_SPLIT]: exit 2 with one line unless DATA_DIR holds train.parquet and
# VAL_SPLIT.parquet (test.parquet by default; the multi-turn data's is heldout.parquet).
require_data() {
    local split
    for split in train "${3:-test}"; do
        if [[ ! -f "$2/$split.parquet" ]]; then
            echo "$1: $2/$split.parquet not found; prepare the data first" \
                 "(python -m data_preprocess.mix --output $2, see the README) or set DATA_DIR" >&2
            exit 2
        fi
    done
}
