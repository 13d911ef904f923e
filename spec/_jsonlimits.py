"""Limits on untrusted JSON: size, nesting depth and number length.

Every reader of outside data (service consumers, the HTTP server, the CLI's event,
trace and case readers) goes through here, so one crafted input cannot exhaust memory,
the recursion limit or the integer parser. The size is checked before reading on,
the depth by a scan before parsing, the number length while parsing. Each refusal is a
:class:`JSONLimitError` whose one-line message names the limit.

>>> loads('{"a": [1, 2]}')
{'a': [1, 2]}
>>> loads("[" * 100 + "]" * 100)
Traceback (most recent call last):
...
sagaspec.spec._jsonlimits.JSONLimitError: JSON nested deeper than 64 levels (limit max_depth=64)
>>> loads("1" * 5000)
Traceback (most recent call last):
...
sagaspec.spec._jsonlimits.JSONLimitError: JSON number of 5000 characters (limit max_number=100)
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sagaspec.errors import InputError

__all__ = [
    "JSONLimits",
    "JSONLimitError",
    "MESSAGE_LIMITS",
    "FILE_LIMITS",
    "loads",
    "check_depth",
    "check_size",
    "decoder",
    "number_hook",
    "read_limited",
    "read_stream_limited",
]


class JSONLimitError(InputError, ValueError):
    """Input beyond a limit (a ``ValueError`` too, so JSON error handlers catch it)."""


@dataclass(frozen=True)
class JSONLimits:
    """Bounds on one JSON document: bytes, nesting levels, characters of one number."""

    max_bytes: int
    max_depth: int = 64
    max_number: int = 100


#: One message on a broker or one HTTP request body.
MESSAGE_LIMITS = JSONLimits(max_bytes=1 << 20)
#: One file the command line reads (event files, traces, case files).
FILE_LIMITS = JSONLimits(max_bytes=64 << 20)

# A JSON string (with escapes) or one bracket: strings are skipped, brackets counted.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def check_size(size: int, limits: JSONLimits, what: str = "JSON input") -> None:
    if size > limits.max_bytes:
        raise JSONLimitError(f"{what} larger than {limits.max_bytes:,} bytes "
                             f"(limit max_bytes={limits.max_bytes})")


def check_depth(text: str, limits: JSONLimits) -> None:
    """Refuse ``text`` if its brackets (outside strings) nest deeper than ``max_depth``."""
    if text.count("[") + text.count("{") <= limits.max_depth:
        return  # cannot be deeper than its number of opening brackets
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limits.max_depth:
                raise JSONLimitError(f"JSON nested deeper than {limits.max_depth} levels "
                                     f"(limit max_depth={limits.max_depth})")
        elif token in "]}":
            depth -= 1


def number_hook(limits: JSONLimits, convert: Any, error: type[Exception] = JSONLimitError) -> Any:
    """A ``parse_int``/``parse_float`` hook refusing numbers longer than ``max_number``
    (raising ``error``) before ``convert`` sees them."""

    def parse(text: str) -> Any:
        if len(text) > limits.max_number:
            raise error(f"JSON number of {len(text)} characters "
                        f"(limit max_number={limits.max_number})")
        return convert(text)

    return parse


def decoder(limits: JSONLimits = MESSAGE_LIMITS, **kw: Any) -> json.JSONDecoder:
    """A :class:`json.JSONDecoder` that refuses over-long numbers (depth: :func:`check_depth`)."""
    return json.JSONDecoder(parse_int=number_hook(limits, int),
                            parse_float=number_hook(limits, float), **kw)


def loads(data: str | bytes | bytearray | memoryview, limits: JSONLimits = MESSAGE_LIMITS,
          **kw: Any) -> Any:
    """:func:`json.loads` within ``limits`` (raises :class:`JSONLimitError` or ``ValueError``)."""
    check_size(len(data), limits)
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data).decode("utf-8")
    check_depth(data, limits)
    return decoder(limits, **kw).decode(data)


def read_stream_limited(stream: BinaryIO, limits: JSONLimits = FILE_LIMITS,
                        what: str = "input") -> bytes:
    """At most ``max_bytes`` of ``stream``; stops reading there (``/dev/zero`` ends)."""
    data = stream.read(limits.max_bytes + 1)
    check_size(len(data), limits, what)
    return data


def read_limited(path: str | Path, limits: JSONLimits = FILE_LIMITS) -> bytes:
    """The bytes of the file at ``path``, or :class:`JSONLimitError` past ``max_bytes``.

    ``-`` reads standard input. ``OSError`` propagates for the caller to word.
    """
    name = str(path)
    if name == "-":
        return read_stream_limited(sys.stdin.buffer, limits, "standard input")
    with open(path, "rb") as f:
        return read_stream_limited(f, limits, "file")
