"""ToolRL's processed API-Bank levels -> validation parquet.

Usage: ``python -m data_preprocess.apibank --help`` (see the README's data section).
"""

from verl_toolrl.data.cli import main

if __name__ == "__main__":
    raise SystemExit(main("apibank"))
