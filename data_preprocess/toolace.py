"""ToolACE (Team-ACE/ToolACE) -> verl parquet, one sample per assistant turn.

Usage: ``python -m data_preprocess.toolace --help`` (see the README's data section).
"""

from verl_toolrl.data.cli import main

if __name__ == "__main__":
    raise SystemExit(main("toolace"))
