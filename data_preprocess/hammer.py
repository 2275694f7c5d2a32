"""xLAM with Hammer's function masking (seeded) -> verl parquet.

Usage: ``python -m data_preprocess.hammer --help`` (see the README's data section).
"""

from verl_toolrl.data.cli import main

if __name__ == "__main__":
    raise SystemExit(main("hammer"))
