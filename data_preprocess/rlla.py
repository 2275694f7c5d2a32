"""ToolRL's released rlla data (rlla_sft.json, rlla_4k parquet) -> verl parquet in this package's schema.

Usage: ``python -m data_preprocess.rlla --help`` (see the README's data section).
"""

from verl_toolrl.data.cli import main

if __name__ == "__main__":
    raise SystemExit(main("rlla"))
