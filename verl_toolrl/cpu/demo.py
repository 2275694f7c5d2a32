"""The demo mix the CPU path trains on: ToolRL's 4k mix built from the shared sample records, in small.

``python -m data_preprocess.mix --demo SAMPLES_DIR`` (sizes in ``verl_toolrl.data.mix.DEMO_COUNTS``: 8
training prompts, 3 held out). The quickstart builds it when the hub is out of reach; the CPU benchmarks and
the real-trainer tests build it with :func:`demo_mix_command`, so every run that says "the demo mix" means
the same rows.

>>> " ".join(demo_mix_command("out/data", "shared/data/raw_samples", python="python"))
'python -m data_preprocess.mix --output out/data --seed 0 --skip-invalid --demo shared/data/raw_samples'
"""

from __future__ import annotations

import sys
from pathlib import Path


def demo_mix_command(output: str | Path, samples: str | Path, python: str = sys.executable) -> list[str]:
    """The command that writes the demo mix of the sample records in ``samples`` to ``output`` (run it from
    the repository root, where ``data_preprocess`` lives)."""
    options = ["--output", str(output), "--seed", "0", "--skip-invalid", "--demo", str(samples)]
    return [python, "-m", "data_preprocess.mix", *options]
