"""Machine-readable reports of a run: NDJSON (every engine event) and JUnit XML.

Both are plain consumers of the engine events, like the CLI and the pytest plugin:
feed them every event with :meth:`handle`, then :meth:`close`. JUnit has one test case
per check (failed with the shrunk sequence and its Mermaid diagram, skipped with the
reason, or passed), so CI dashboards show which property broke.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from sagaspec.conformance.checks import checks_for
from sagaspec.conformance.events import Event, Failure, FailureShrunk, RunFinished, RunStarted

__all__ = ["NdjsonReport", "JunitReport", "failure_text"]


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)
    return str(obj)


class NdjsonReport:
    """One JSON object per line per engine event (``"event"`` names the kind)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f: IO[str] = self.path.open("w", encoding="utf-8")

    def handle(self, event: Event) -> None:
        data = event.to_json()
        self._f.write(json.dumps(data, default=_jsonable, ensure_ascii=False) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def failure_text(f: Failure) -> str:
    """The human report of one failure (also the JUnit failure body)."""
    lines = [f"[{f.check}] {f.message}", ""]
    if f.divergence:
        lines += [f"note: {f.divergence}", ""]
    if f.flaky:
        lines += ["note: hypothesis could not make this failure happen again (flaky)", ""]
    lines += [f"Shrunk sequence ({len(f.exchanged)} events exchanged with {f.sut}):",
              f.diagram, "", "Messages exchanged:"]
    lines += [f"  {i}. {m}" for i, m in enumerate(f.exchanged, start=1)]
    if f.event is not None:
        lines += ["", "Offending event:", json.dumps(f.event, indent=2, ensure_ascii=False)]
    if f.reproduce:
        lines += ["", f"Reproduce with: {f.reproduce}"]
    if f.seed is not None:
        lines.append(f"(hypothesis seed {f.seed}; the case file replays without it)")
    return "\n".join(lines)


class JunitReport:
    """A JUnit XML file: one ``testcase`` per check."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.started: RunStarted | None = None
        self.failures: dict[str, Failure] = {}
        self.finished: RunFinished | None = None

    def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.started = event
        elif isinstance(event, FailureShrunk):
            self.failures[event.failure.check] = event.failure
        elif isinstance(event, RunFinished):
            self.finished = event

    def close(self) -> None:
        fin, st = self.finished, self.started
        suite = ET.Element("testsuite", name="sagaspec.conform")
        cls = f"sagaspec.{st.design}.{st.participant}" if st else "sagaspec"
        n_fail = n_skip = 0
        summaries = {c.name: c for c in (fin.checks if fin else [])}
        checks = checks_for(st.design) if st is not None else checks_for()
        for name, check in checks.items():
            case = ET.SubElement(suite, "testcase", classname=cls, name=name,
                                 time=f"{(fin.seconds if fin else 0) / len(checks):.3f}")
            summ = summaries.get(name)
            if name in self.failures:
                f = self.failures[name]
                n_fail += 1
                el = ET.SubElement(case, "failure", message=f.message[:500], type=name)
                el.text = failure_text(f) + "\n\nMermaid:\n" + f.mermaid
            elif summ is not None and summ.status == "skipped":
                n_skip += 1
                ET.SubElement(case, "skipped", message=summ.reason or "skipped")
            elif summ is not None and summ.status in ("not-run", "not-applicable"):
                n_skip += 1
                ET.SubElement(case, "skipped", message=summ.reason or "not exercised")
            ET.SubElement(case, "system-out").text = check.summary
        if fin is not None and fin.error:
            case = ET.SubElement(suite, "testcase", classname=cls, name="run")
            ET.SubElement(case, "error", message=fin.error)
        suite.set("tests", str(len(checks)))
        suite.set("failures", str(n_fail))
        suite.set("skipped", str(n_skip))
        suite.set("errors", "1" if fin is not None and fin.error else "0")
        suite.set("time", f"{fin.seconds:.3f}" if fin else "0")
        props = ET.Element("properties")
        if st is not None:
            for k in ("adapter", "participant", "design", "mode", "seed"):
                ET.SubElement(props, "property", name=k, value=str(getattr(st, k)))
        if fin is not None and fin.coverage:
            ET.SubElement(props, "property", name="coverage",
                          value=json.dumps(fin.coverage, sort_keys=True))
        suite.insert(0, props)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ET.ElementTree(suite).write(self.path, encoding="utf-8", xml_declaration=True)
