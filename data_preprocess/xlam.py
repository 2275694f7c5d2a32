"""xLAM function-calling 60k -> verl parquet, one sample per record.

Usage: ``python -m data_preprocess.xlam --help`` (see the README's data section).
"""

from verl_toolrl.data.cli import main

if __name__ == "__main__":
    raise SystemExit(main("xlam"))
