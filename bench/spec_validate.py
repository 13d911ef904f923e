"""How fast is event validation and the CloudEvents mapping? Prints counts and ratios.

    python bench/spec_validate.py [N]

Measures, per event (all ten example events, cycled): JSON Schema validation of valid and
of broken events (validate_event, is_valid_event), pydantic parsing for comparison, the
CloudEvents round trip, and the one-off cost of building the cached validators.
"""

from __future__ import annotations

import sys
import time

from sagaspec.spec import (
    EVENT_TYPES,
    all_examples,
    from_binary,
    from_cloudevent,
    is_valid_event,
    parse_event,
    to_binary,
    to_cloudevent,
    validate_event,
)
from sagaspec.spec import schemas as schemas_module


def rate(label: str, fn, items, baseline: float | None = None) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    elapsed = time.perf_counter() - start
    per_sec = len(items) / elapsed
    ratio = f"  ({per_sec / baseline:.2f}x validate_event)" if baseline else ""
    print(f"{label:<34} {per_sec:>10,.0f} events/s{ratio}")
    return per_sec


def main(n: int = 20_000) -> None:
    examples = all_examples()
    broken = []
    for e in examples:
        e = dict(e)
        e["timestamp"] = "2024-01-15T10:00:00"
        e["extra"] = 1
        broken.append(e)
    valid = [examples[i % len(examples)] for i in range(n)]
    invalid = [broken[i % len(broken)] for i in range(n)]

    schemas_module._validator.cache_clear()
    schemas_module._shipped.cache_clear()
    start = time.perf_counter()
    for t in EVENT_TYPES:
        schemas_module._validator(t, "2020-12")
    print(f"{'cold: load + build 10 validators':<34} {(time.perf_counter() - start) * 1000:>10.1f} ms")

    base = rate("validate_event (valid)", validate_event, valid)
    rate("is_valid_event (valid)", is_valid_event, valid, base)
    rate("validate_event (2 problems each)", validate_event, invalid, base)
    rate("validate_event draft-07 (valid)", lambda e: validate_event(e, "07"), valid, base)
    rate("pydantic parse_event (valid)", parse_event, valid, base)
    few = valid[: max(1, n // 4)]
    rate("to_cloudevent + from_cloudevent", lambda e: from_cloudevent(to_cloudevent(e)), few, base)
    rate("to_binary + from_binary", lambda e: from_binary(*to_binary(e)), few, base)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
