"""The paper's 4k training mix (2,000 ToolACE + 1,000 Hammer + 1,000 xLAM), with a test split.

Usage: ``python -m data_preprocess.mix --help`` (see the README's data section).
"""

from verl_toolrl.data.cli import main

if __name__ == "__main__":
    raise SystemExit(main("mix"))
