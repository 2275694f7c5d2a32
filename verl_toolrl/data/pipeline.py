"""The conversion loop shared by every command: records → samples → checked rows, with the summary.

A converter is a function ``(record, row) -> list[Sample]`` raising :class:`RecordError` on bad input.
:func:`convert_records` runs it over every record and renders every sample with ``schema.build_row``.
A bad record stops the run with an error naming the file, row and field, unless ``skip_invalid`` is
set: then it is counted per reason in the :class:`Summary` and the run goes on. Nothing is dropped
without being counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from verl_toolrl.core.calls import Format, check_format
from verl_toolrl.core.errors import RecordError
from verl_toolrl.core.progress import progress_bar
from verl_toolrl.data.schema import Sample, build_row

Converter = Callable[[Any, int], list[Sample]]


@dataclass
class Summary:
    """What a run read, wrote and skipped. ``skipped`` counts by reason code; a record that fails as a
    whole counts once, a record whose samples fail counts once per failed sample. ``examples`` keeps
    the first error message of each reason.

    >>> s = Summary(read=3, written={"train": 2})
    >>> s.skip(RecordError("answers", "bad_json", "Expecting value", "x.json", 1))
    >>> print(s.report())
    records read: 3
    rows written: 2 (train 2)
    rows skipped: 1
      bad_json: 1 (first: x.json: row 1: field 'answers': bad_json: Expecting value)
    """

    read: int = 0
    written: dict[str, int] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def skip(self, error: RecordError) -> None:
        self.skipped[error.reason] += 1
        self.examples.setdefault(error.reason, str(error))

    def report(self) -> str:
        parts = ", ".join(f"{split} {count}" for split, count in self.written.items())
        lines = [
            f"records read: {self.read}",
            f"rows written: {sum(self.written.values())}" + (f" ({parts})" if parts else ""),
            f"rows skipped: {sum(self.skipped.values())}",
        ]
        for reason, count in sorted(self.skipped.items()):
            lines.append(f"  {reason}: {count} (first: {self.examples[reason]})")
        return "\n".join(lines + self.notes)


def samples_of(
    records: Sequence[Any],
    converter: Converter,
    *,
    file: str,
    summary: Summary,
    skip_invalid: bool = False,
    progress: bool = False,
) -> list[Sample]:
    """Every record converted to samples (not yet rendered); errors located at ``file`` and the row."""
    samples: list[Sample] = []
    for row, record in enumerate(progress_bar(records, description=f"reading {file}", unit="rec", enabled=progress)):
        summary.read += 1
        try:
            samples.extend(converter(record, row))
        except RecordError as error:
            located = error.located(file, row)
            if not skip_invalid:
                raise located from None
            summary.skip(located)
    return samples


def row_of(sample: Sample, format: Format, split: str, *, file: str) -> dict[str, Any]:
    """``schema.build_row`` with errors located at the sample's file and row."""
    try:
        return build_row(sample, format, split)
    except RecordError as error:
        raise error.located(file, sample.row) from None


def rows_of(
    samples: Sequence[Sample],
    *,
    format: Format,
    default_split: str,
    file: str,
    summary: Summary,
    skip_invalid: bool = False,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Render and check every sample (see ``schema.build_row``)."""
    rows = []
    for sample in progress_bar(samples, description="rendering rows", unit="rec", enabled=progress):
        try:
            rows.append(row_of(sample, format, default_split, file=file))
        except RecordError as error:
            if not skip_invalid:
                raise
            summary.skip(error)
    return rows


def convert_records(
    records: Sequence[Any],
    converter: Converter,
    *,
    file: str,
    format: Format = "toolrl",
    default_split: str = "train",
    skip_invalid: bool = False,
    progress: bool = False,
) -> tuple[list[dict[str, Any]], Summary]:
    """(checked rows, summary) for ``records``; see the module docstring for errors.

    >>> from verl_toolrl.core.calls import ToolCall
    >>> def one(record, row):
    ...     return [Sample("demo", str(row), ({"name": "f"},), ({"role": "user", "content": record},),
    ...                    calls=(ToolCall("f"),), row=row)]
    >>> rows, summary = convert_records(["a", "b"], one, file="demo.json")
    >>> len(rows), summary.read
    (2, 2)
    """
    check_format(format)
    summary = Summary()
    samples = samples_of(records, converter, file=file, summary=summary, skip_invalid=skip_invalid, progress=progress)
    rows = rows_of(
        samples,
        format=format,
        default_split=default_split,
        file=file,
        summary=summary,
        skip_invalid=skip_invalid,
        progress=progress,
    )
    return rows, summary
