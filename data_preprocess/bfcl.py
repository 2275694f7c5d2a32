"""BFCL v4 single-turn categories (bfcl-eval wheel) -> validation parquet.

Usage: ``python -m data_preprocess.bfcl --help`` (see the README's data section).
"""

from verl_toolrl.data.cli import main

if __name__ == "__main__":
    raise SystemExit(main("bfcl"))
