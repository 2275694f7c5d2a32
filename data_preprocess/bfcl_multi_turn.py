"""BFCL v4 multi-turn entries (bfcl-eval wheel) -> verl parquet for multi-turn RL, with a held-out split.

Usage: ``python -m data_preprocess.bfcl_multi_turn --help`` (see ``verl_toolrl.data.bfcl_multi_turn``).
"""

from verl_toolrl.data.bfcl_multi_turn import main

if __name__ == "__main__":
    raise SystemExit(main())
