"""The demo mix the CPU path trains on: ToolRL's 4k mix built from the shared sample records, in small.

5 ToolACE, 1 Hammer-masked and 5 xLAM records (8 training prompts, 3 held out). The quickstart builds it
when the hub is out of reach; the CPU benchmarks and the real-trainer tests build it with
:func:`demo_mix_command`, so every run that says "the demo mix" means the same rows.

>>> command = demo_mix_command("out/data", "shared/data/raw_samples", python="python")
>>> " ".join(command)  # doctest: +NORMALIZE_WHITESPACE
'python -m data_preprocess.mix --output out/data --seed 0 --skip-invalid
 --toolace shared/data/raw_samples/toolace.json --xlam shared/data/raw_samples/xlam.json
 --toolace-count 5 --hammer-count 1 --xlam-count 5 --test-fraction 0.3'
"""

from __future__ import annotations

import sys
from pathlib import Path

#: The sizes of the demo mix (``python -m data_preprocess.mix`` options).
DEMO_MIX_OPTIONS = ("--toolace-count", "5", "--hammer-count", "1", "--xlam-count", "5", "--test-fraction", "0.3")


def demo_mix_command(output: str | Path, samples: str | Path, python: str = sys.executable) -> list[str]:
    """The command that writes the demo mix of the sample records in ``samples`` to ``output`` (run it from
    the repository root, where ``data_preprocess`` lives)."""
    samples = Path(samples)
    return [
        python,
        "-m",
        "data_preprocess.mix",
        "--output",
        str(output),
        "--seed",
        "0",
        "--skip-invalid",
        "--toolace",
        str(samples / "toolace.json"),
        "--xlam",
        str(samples / "xlam.json"),
        *DEMO_MIX_OPTIONS,
    ]
