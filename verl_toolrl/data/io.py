"""Reading raw records: a local JSON, JSONL or parquet file in the hub's own layout, or the hub dataset.

Local files are read whole: a JSON file holds one array of records (both ToolACE's and xLAM's hub files
are one array), a JSONL file one record per line, a parquet file one record per row. A hub dataset
goes through ``datasets.load_dataset`` (imported only then); when it cannot be had the error is one
line saying to pass ``--input``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from verl_toolrl.core.errors import SourceError

LOCAL_SUFFIXES: tuple[str, ...] = (".json", ".jsonl", ".parquet")


def read_local(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a local ``.json`` (an array), ``.jsonl`` or ``.parquet`` file.

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "rows.jsonl")
    >>> _ = open(path, "w").write('{"id": 0}\\n\\n{"id": 1}\\n')
    >>> read_local(path)
    [{'id': 0}, {'id': 1}]
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise SourceError(f"{path}: no such file")
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".parquet":
        # pyarrow only for parquet input (the JSON paths stay light)
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pylist()
        except (pa.ArrowException, OSError) as error:  # ArrowInvalid: not parquet, truncated, ...
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise SourceError(f"{path}: not a readable parquet file ({reason})") from None
    if suffix == ".jsonl":
        records = []
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise SourceError(
                        f"{path}: line {number} is not JSON ({error.msg}: column {error.colno})"
                    ) from None
        return records
    if suffix == ".json":
        with open(path, encoding="utf-8") as handle:
            try:
                data = json.load(handle)
            except json.JSONDecodeError as error:
                raise SourceError(f"{path}: not JSON ({error.msg}: line {error.lineno} column {error.colno})") from None
        if not isinstance(data, list):
            raise SourceError(f"{path}: expected a JSON array of records, got a JSON {type(data).__name__}")
        return data
    raise SourceError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(LOCAL_SUFFIXES)}")


def read_hub(name: str, split: str = "train", data_files: str | None = None) -> list[dict[str, Any]]:
    """The records of a hub dataset through ``datasets.load_dataset``; a one-line :class:`SourceError`
    saying to pass ``--input`` when it is missing, gated or unreachable."""
    try:
        import datasets  # optional: only hub sources need it
    except ImportError:
        raise SourceError(f"reading {name!r} from the hub needs `pip install datasets`; or pass --input PATH") from None
    try:
        dataset = datasets.load_dataset(name, split=split, data_files=data_files)
    except Exception as error:  # noqa: BLE001 - any hub failure (network, gated, missing) has the same remedy
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise SourceError(
            f"cannot load hub dataset {name!r} ({type(error).__name__}: {reason}); "
            "pass --input PATH with a local copy (JSON, JSONL or parquet in the hub's layout)"
        ) from None
    return [dict(record) for record in dataset]


def read_records(input_path: str | None, hub_name: str | None, hub_files: str | None = None) -> tuple[str, list[dict]]:
    """(name used in error messages, records) from ``input_path`` if given, else from the hub.

    >>> read_records(None, None)
    Traceback (most recent call last):
    ...
    verl_toolrl.core.errors.SourceError: this command has no hub default; pass --input PATH
    """
    if input_path:
        return os.fspath(input_path), read_local(input_path)
    if not hub_name:
        raise SourceError("this command has no hub default; pass --input PATH")
    return f"hub:{hub_name}", read_hub(hub_name, data_files=hub_files)
