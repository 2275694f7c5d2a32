"""What goes wrong with input data, said precisely: which file, which row, which field, and why.

The data converters (``verl_toolrl.data``) and the tasks' readers of released prompts
(``verl_toolrl.tasks``) raise :class:`RecordError` with the field and a reason code; the conversion loop adds the
file and row (:meth:`RecordError.located`), and either stops the run or, with ``--skip-invalid``, counts
the reason. :class:`SourceError` is a source that cannot be read at all (a missing file, an unreachable
hub dataset): a one-line message saying what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Reason codes: the keys of the per-reason skip counts.
MISSING_FIELD = "missing_field"  # a required field is absent
WRONG_TYPE = "wrong_type"  # a field has the wrong JSON type
BAD_JSON_FIELD = "bad_json"  # a JSON-string field of a record does not decode (calls.BAD_JSON: a model's call)
BAD_LAYOUT = "bad_layout"  # a prompt, history or tool list does not follow its documented layout
UNPARSEABLE_CALL = "unparseable_call"  # a call string does not parse (ToolACE's [Func(k=v)] syntax)
UNKNOWN_TOOL = "unknown_tool"  # a call names a tool missing from the record's tool list
UNKNOWN_PARAMETER = "unknown_parameter"  # a call passes an argument its tool does not declare
EMPTY_TARGET = "empty_target"  # a target with neither calls nor a response
BAD_GROUND_TRUTH = "bad_ground_truth"  # the rendered ground truth fails the parser or the self-score check
REASONS: tuple[str, ...] = (
    MISSING_FIELD,
    WRONG_TYPE,
    BAD_JSON_FIELD,
    BAD_LAYOUT,
    UNPARSEABLE_CALL,
    UNKNOWN_TOOL,
    UNKNOWN_PARAMETER,
    EMPTY_TARGET,
    BAD_GROUND_TRUTH,
)


class RecordError(ValueError):
    """A malformed input record: ``file``, ``row`` (0-based), ``field`` (a path such as
    ``conversations[3].value``), ``reason`` (one of ``REASONS``) and a human ``detail``.

    >>> str(RecordError("answers", BAD_JSON_FIELD, "Expecting value").located("xlam.json", 7))
    "xlam.json: row 7: field 'answers': bad_json: Expecting value"
    """

    def __init__(self, field: str, reason: str, detail: str, file: str | None = None, row: int | None = None):
        self.field, self.reason, self.detail, self.file, self.row = field, reason, detail, file, row
        super().__init__(str(self))

    def located(self, file: str, row: int) -> RecordError:
        """This error with its file and row filled in (kept when already set)."""
        return RecordError(
            self.field,
            self.reason,
            self.detail,
            self.file if self.file is not None else file,
            self.row if self.row is not None else row,
        )

    def __str__(self) -> str:
        where = "" if self.file is None else f"{self.file}: "
        where += "" if self.row is None else f"row {self.row}: "
        return f"{where}field {self.field!r}: {self.reason}: {self.detail}"


class SourceError(RuntimeError):
    """A source that cannot be read at all; the message is one line that says what to do."""


class UsageError(ValueError):
    """Inputs and options that do not fit together (e.g. fewer usable samples than asked for)."""


_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object", float: "a number"}


def field_of(record: Mapping[str, Any], key: str, kind: type | tuple[type, ...], path: str | None = None) -> Any:
    """``record[key]``, checked to be of ``kind``; a :class:`RecordError` naming ``path`` (default ``key``)
    when it is missing or of another type.

    >>> field_of({"query": "hi"}, "query", str)
    'hi'
    >>> field_of({"query": 3}, "query", str)
    Traceback (most recent call last):
    ...
    verl_toolrl.core.errors.RecordError: field 'query': wrong_type: expected a string, got int
    """
    path = path or key
    if not isinstance(record, Mapping):
        raise RecordError(path, WRONG_TYPE, f"the record is {type(record).__name__}, not an object")
    if key not in record or record[key] is None:
        raise RecordError(path, MISSING_FIELD, "the field is missing")
    value = record[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
        expected = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        raise RecordError(path, WRONG_TYPE, f"expected {expected}, got {type(value).__name__}")
    return value
