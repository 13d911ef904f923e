"""Read event files: one JSON object, a JSON array of objects, or NDJSON, with positions.

Every value read is a :class:`Record` that remembers where it started (line and column,
1-based), so a validator can point at it. A JSON syntax error is a record too, with the
parser's message: in NDJSON the reader resynchronises at the next line and goes on, so
one broken line does not hide the others; in a multi-line JSON text it stops there.

>>> records = parse_events('{"a": 1}\\n{"b": \\n{"c": 3}\\n', "x.ndjson")
>>> [(r.line, r.value, r.error) for r in records]
[(1, {'a': 1}, None), (2, None, 'invalid JSON: Expecting value (column 7)'), (3, {'c': 3}, None)]
>>> [(r.line, r.column) for r in parse_events('[{"a": 1},\\n  {"b": 2}]', "x.json")]
[(1, 2), (2, 3)]
"""

from __future__ import annotations

import bisect
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagaspec.spec._jsonlimits import (
    FILE_LIMITS,
    JSONLimitError,
    check_depth,
    number_hook,
    read_limited,
    read_stream_limited,
)
from sagaspec.spec.schemas import Problem, validate_event

from sagaspec.errors import InputError

__all__ = ["Record", "parse_events", "read_events", "check_records", "STDIN"]

#: The file name that means standard input.
STDIN = "-"

_WS = " \t\r\n"


@dataclass(frozen=True)
class Record:
    """One value read from an event file, or the JSON error found in its place."""

    source: str
    line: int
    column: int
    index: int
    value: Any = None
    error: str | None = None

    @property
    def where(self) -> str:
        """``file:line:column``, the compiler convention editors can jump to."""
        return f"{self.source}:{self.line}:{self.column}"


class _NotJSON(ValueError):
    pass


class _OverLimit(_NotJSON):
    """A value beyond a limit of :mod:`sagaspec.spec._jsonlimits` (the message names it)."""


def _reject_constant(name: str) -> Any:
    raise _NotJSON(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant,
                            parse_int=number_hook(FILE_LIMITS, int, _OverLimit),
                            parse_float=number_hook(FILE_LIMITS, float, _OverLimit))


class _Positions:
    def __init__(self, text: str) -> None:
        self.starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]

    def __call__(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


def _json_error(exc: ValueError) -> str:
    if isinstance(exc, _OverLimit):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} (column {exc.colno})"
    return f"invalid JSON: {exc}"


def _array(text: str, start: int, source: str, at: _Positions) -> list[Record]:
    try:
        _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        return [Record(source, exc.lineno, exc.colno, 0, error=_json_error(exc))]
    except _NotJSON as exc:
        line, col = at(start)
        return [Record(source, line, col, 0, error=_json_error(exc))]
    records = []
    pos = _skip_ws(text, start + 1)
    while pos < len(text) and text[pos] != "]":
        value, end = _DECODER.raw_decode(text, pos)
        line, col = at(pos)
        records.append(Record(source, line, col, len(records), value))
        pos = _skip_ws(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
    return records


def _line_values(text: str, offset: int, source: str, at: _Positions,
                 records: list[Record]) -> None:
    """Decode every value of one line (NDJSON); an error ends the line, not the file."""
    pos = _skip_ws(text, 0)
    while pos < len(text):
        line, col = at(offset + pos)
        try:
            value, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            message = f"invalid JSON: {exc.msg} (column {_column(at, offset + exc.pos)})"
            records.append(Record(source, line, col, len(records), error=message))
            return
        except _NotJSON as exc:
            records.append(Record(source, line, col, len(records), error=_json_error(exc)))
            return
        records.append(Record(source, line, col, len(records), value))
        pos = _skip_ws(text, end)


def _column(at: _Positions, offset: int) -> int:
    return at(offset)[1]


def _stream(text: str, start: int, source: str, at: _Positions) -> list[Record]:
    records: list[Record] = []
    line, col = at(start)
    try:
        value, end = _DECODER.raw_decode(text, start)
    except (json.JSONDecodeError, _NotJSON) as exc:
        err_line = exc.lineno if isinstance(exc, json.JSONDecodeError) else line
        if err_line != line:
            # A multi-line JSON text: resynchronising would only invent errors.
            err_col = exc.colno if isinstance(exc, json.JSONDecodeError) else col
            return [Record(source, err_line, err_col, 0, error=_json_error(exc))]
        end = start  # NDJSON whose first line is broken: fall through to line mode
    else:
        if at(end - 1)[0] != line:
            # Concatenated multi-line JSON values: read on, stop at the first error.
            records.append(Record(source, line, col, 0, value))
            pos = _skip_ws(text, end)
            while pos < len(text):
                line, col = at(pos)
                try:
                    value, end = _DECODER.raw_decode(text, pos)
                except json.JSONDecodeError as exc:
                    records.append(Record(source, exc.lineno, exc.colno, len(records),
                                          error=_json_error(exc)))
                    return records
                except _NotJSON as exc:
                    records.append(Record(source, line, col, len(records), error=_json_error(exc)))
                    return records
                records.append(Record(source, line, col, len(records), value))
                pos = _skip_ws(text, end)
            return records
    # NDJSON: every line stands alone, so one broken line does not hide the next ones.
    first_line_start = at.starts[line - 1]
    for n in range(line - 1, len(at.starts)):
        begin = at.starts[n] if n != line - 1 else first_line_start
        stop = at.starts[n + 1] - 1 if n + 1 < len(at.starts) else len(text)
        _line_values(text[begin:stop], begin, source, at, records)
    return records


def parse_events(text: str, source: str = "<text>") -> list[Record]:
    """Every value of an event text (object, array of objects, or NDJSON), with positions.

    Raises :class:`~sagaspec.spec._jsonlimits.JSONLimitError` for brackets nested deeper
    than the file limit (before parsing: deep nesting would exhaust the recursion limit).
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    check_depth(text, FILE_LIMITS)
    at = _Positions(text)
    start = _skip_ws(text, 0)
    if start >= len(text):
        return []
    if text[start] == "[":
        return _array(text, start, source, at)
    return _stream(text, start, source, at)


def read_events(path: str | Path) -> list[Record]:
    """Records of the event file at ``path`` (``"-"`` reads standard input).

    Raises :class:`~sagaspec.errors.InputError` when the file cannot be read at all.
    """
    name = str(path)
    try:
        if name == STDIN:
            name = "<stdin>"
            data = read_stream_limited(sys.stdin.buffer, FILE_LIMITS, "standard input")
        else:
            data = read_limited(Path(path), FILE_LIMITS)
    except JSONLimitError as exc:
        raise InputError(f"{name}: {exc}") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a folder, expected an event file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return [Record(name, line, 1, 0, error=f"not UTF-8 text (byte {exc.start})")]
    try:
        return parse_events(text, name)
    except JSONLimitError as exc:
        raise InputError(f"{name}: {exc}") from None


def check_records(records: Iterable[Record], draft: str = "2020-12", spec=None) -> Iterator[tuple[Record, Problem]]:
    """Every problem of every record: JSON errors and schema problems, in file order.

    ``spec`` is the saga the events belong to (default: the shipped order saga)."""
    for record in records:
        if record.error is not None:
            yield record, Problem("", record.error)
            continue
        for problem in validate_event(record.value, draft, spec):
            yield record, problem
