"""``sagaspec conform --spec FILE``: any spec's services, judged case by case."""

from __future__ import annotations

import math
import random
import shlex
import sys
import time
from typing import Any

import click

from sagaspec.cli._plural import plural

__all__ = ["conform_spec"]

EXIT_OK, EXIT_FAILED, EXIT_INCOMPLETE = 0, 1, 3


def conform_spec(spec_ref: str, adapter: str | None, participant: str, examples: int, seed: int | None,
                 case: int | None, mutant: str | None, timeout: float, faults: tuple[str, ...],
                 exitfirst: bool = False, case_sagas: int | None = None, mapping: str | None = None,
                 crash_points: tuple[str, ...] | None = None, steer: bool = True) -> int:
    """Run the cases; print every distinct failure, shrunk; the exit status.

    ``faults`` are the kinds injected (duplicates, reorder, crash, invalid). The run keeps
    going after a failure and reports each distinct one (check x participant x event)
    once, from its first case, shrunk to the fewest sagas and fault kinds that still show
    it; ``exitfirst`` stops at the first. ``crash_points``: where crashes may land (``None``:
    every point the adapter honours; naming one it cannot is a usage error). ``steer``:
    coverage-guided steering of the deliveries (see
    :class:`~sagaspec.conformance.coverage.SpecSteering`).
    """
    from sagaspec.adapters.crash import CRASH_POINTS
    from sagaspec.conformance.spec_conform import case_seed, load_spec_adapter, run_case
    from sagaspec.spec.sagafile import resolve_spec

    spec = resolve_spec(spec_ref)
    adapter = adapter or "inprocess"
    seed = random.randrange(2**31) if seed is None else seed
    cases = [case] if case is not None else list(range(examples))
    from sagaspec.adapters.broker import redact

    # Lines meant for reading show a URL's password as ***; only "Reproduce with:" below
    # keeps the URL as given, since it must run as printed.
    target = f"{redact(adapter)} as {participant} of the {spec.name} spec" + (f", mutant {mutant}" if mutant else "")
    driver = load_spec_adapter(adapter, spec, participant, mutant, timeout, mapping=mapping)
    if getattr(driver, "black_box", False):  # a system that runs by itself: faults on its broker only
        from sagaspec.conformance.spec_conform import FAULTS
        from sagaspec.conformance.spec_system import BLACK_BOX_FAULTS
        from sagaspec.errors import UsageError

        cannot = [k for k in faults if k not in BLACK_BOX_FAULTS]
        if cannot and set(faults) != set(FAULTS):  # asked for by name, not the default "all"
            driver.close()
            raise UsageError(f"--faults: a foreign system runs its sagas by itself; the suite can inject "
                             f"{' and '.join(BLACK_BOX_FAULTS)} on its broker, not {', '.join(cannot)}")
        faults = tuple(k for k in faults if k in BLACK_BOX_FAULTS)
    click.echo(f"sagaspec conform: {target}, {plural(len(cases), 'case')}, seed {seed}, "
               f"faults: {', '.join(faults) or 'none'}")
    if getattr(driver, "black_box", False):
        click.echo("the system runs its sagas by itself (it offers no step hook): the suite starts "
                   "them one at a time and watches; it does not interleave their deliveries")
    black_box = getattr(driver, "black_box", False)
    from sagaspec.conformance.coverage import SpecSteering

    memory = SpecSteering(spec, seed) if steer and not black_box and "reorder" in faults else None
    if memory is not None:
        click.echo("steering: on: each case's deliveries prefer a model transition (an event "
                   "to a participant in a given state) that no earlier case made; --no-steer "
                   "turns it off")
    from sagaspec.conformance.spec_system import HealthCheck

    points = _crash_points(driver, crash_points, adapter)
    if "crash" in faults and points != CRASH_POINTS:
        click.echo(f"crashes land only at {', '.join(points)}")
    live = sys.stderr.isatty()
    t0 = time.perf_counter()
    done = steps = events = 0
    incomplete: list[int] = []
    distinct: dict[tuple[str, str, str], tuple[int, Any, int, tuple[str, ...]]] = {}
    interrupted = False

    # The cases run so far by their adapter tag: what comes after its case ended (a late
    # answer to a duplicate) is judged as that case's, not the one running when it came.
    ran: dict[str, tuple[int, Any, int, tuple[str, ...]]] = {}
    late_by: dict[str, float] = {}  # tag of a case failed by what came after it -> how late (s)

    def run(k: int, sagas: int | None, kinds: tuple[str, ...]):
        s = case_seed(seed, k)
        n = sagas or (1 + s % 3)
        if getattr(driver, "black_box", False):  # a foreign system runs its sagas itself
            from sagaspec.conformance.spec_system import run_system_case

            result = run_system_case(spec, driver, s, sagas=n, faults=kinds)
        else:
            result = run_case(spec, driver, s, sagas=n, crashes="crash" in kinds,
                              duplicates="duplicates" in kinds, reorder="reorder" in kinds,
                              invalid="invalid" in kinds, crash_points=points,
                              steering=memory.before(k) if memory is not None else None)
        if result.tag is not None:
            ran[result.tag] = (k, result, n, kinds)
            while len(ran) > 16:  # each holds its oracle: keep the latest cases only
                del ran[next(iter(ran))]
        return result

    def came_late() -> bool:
        """Judge what came late for earlier cases with those cases; True if one failed."""
        orphans = driver.orphans() if callable(getattr(driver, "orphans", None)) else []
        by_case: dict[str, list[Any]] = {}
        after_by: dict[str, float] = {}
        for tag, event, after in orphans:
            by_case.setdefault(tag, []).append(event)
            after_by[tag] = max(after_by.get(tag, 0.0), after)
        failed = False
        for tag, events in by_case.items():
            if tag not in ran:
                continue  # a health probe's saga: the probe reports its own damage
            k, result, sagas, kinds = ran[tag]
            if result.late is None:
                continue
            before = len(result.failures)
            result.late(events)
            if len(result.failures) > before and before == 0:
                late_by[tag] = after_by[tag]
                f = result.failures[0]
                distinct.setdefault((f.check, f.participant, f.event), (k, result, sagas, kinds))
                failed = True
        return failed

    try:
        health = HealthCheck(spec, driver)  # damage a case leaves behind, checked after it
        for k in cases:
            result = run(k, case_sagas, faults)
            if came_late() and exitfirst:
                break
            sick = health.after()
            if sick:  # damage that outlives its case is this case's failure, not the next one's
                from sagaspec.conformance.spec_oracle import Failure

                result.failures.insert(0, Failure("health", "system", "*", "-", f"the service is unhealthy after "
                                                  f"case {k}, so this case damaged it: {sick}; later cases not run"))
            done += 1
            steps += result.steps
            events += result.events
            if live:
                sys.stderr.write(f"\rcase {done}/{len(cases)}, {plural(len(distinct), 'distinct failure')}")
                sys.stderr.flush()
            if result.failures:
                f = result.failures[0]
                key = (f.check, f.participant, f.event)
                if key not in distinct:
                    distinct[key] = (k, result, result.sagas, faults)
                if exitfirst or sick:
                    break
                continue
            if not result.complete:
                incomplete.append(k)
        # Shrink each distinct failure: fewer sagas, then fewer fault kinds, same failure.
        for key, (k, result, sagas, kinds) in list(distinct.items()):
            if key[0] == "health":
                continue  # the service is down: nothing more to run
            for n in range(1, sagas):
                smaller = run(k, n, kinds)
                if smaller.failures and _key(smaller.failures[0]) == key:
                    result, sagas = smaller, n
                    break
            for kind in kinds:
                fewer = tuple(x for x in kinds if x != kind)
                tried = run(k, sagas, fewer)
                if tried.failures and _key(tried.failures[0]) == key:
                    result, kinds = tried, fewer
            distinct[key] = (k, result, sagas, kinds)
        if late_by and callable(getattr(driver, "wait_quiet", None)):
            # The service answered late: its answers to the shrinking runs are still on
            # their way; a run started now (the reproduction) must not meet them.
            driver.wait_quiet(min(10.0, 2 * max(late_by.values()) + 0.5))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        driver.close()
        if live:
            sys.stderr.write("\r\033[K")
    secs = max(time.perf_counter() - t0, 1e-9)
    for (k, result, sagas, kinds) in distinct.values():
        f = result.failures[0]
        click.echo(f"FAILED {f.check}: case {k} (shrunk to {plural(sagas, 'saga')}, faults: {', '.join(kinds) or 'none'}): "
                   f"{f.message}")
        click.echo("  what the suite did (last steps), and what came out:")
        for line in result.log[-12:]:
            click.echo(f"    {line}")
        late = late_by.get(result.tag) if result.tag is not None else None
        if late is not None:
            # What failed it came after the case: a run of the case alone must wait for it.
            sep = "&" if "?" in adapter else "?"
            adapter_words = f"{adapter}{sep}late={math.ceil(late * 2 + 0.5):d}"
        else:
            adapter_words = adapter
        # The real URL, password and all: the line must run as printed (the header and
        # verdict lines mask it).
        words = ["sagaspec", "conform", "--spec", spec_ref, "--adapter", adapter_words,
                 "--participant", participant, "--seed", str(seed), "--case", str(k),
                 "--case-sagas", str(sagas), "--faults", ",".join(kinds) or "none"]
        if mutant:
            words += ["--mutant", mutant]
        if memory is None and not steer:  # the case as it ran: unsteered
            words += ["--no-steer"]
        if mapping:
            words += ["--mapping", mapping]
        if "crash" in kinds and points != CRASH_POINTS:
            words += ["--crash-points", ",".join(points)]
        click.echo("Reproduce with: " + " ".join(shlex.quote(w) for w in words))
    click.echo(f"{plural(done, 'case')}, {steps} deliveries, {events} events in {secs:.1f}s "
               f"({done / secs:.1f} cases/s)")
    if memory is not None and memory.next:
        click.echo(f"model transitions made by the reference in cases 0-{memory.next - 1}: "
                   f"{len(memory.learn.covered)} (steering reads them; --no-steer turns it off)")
    if distinct:
        click.echo(f"FAILED: {target}: {plural(len(distinct), 'distinct failure')}")
        return EXIT_FAILED
    if interrupted:
        click.echo(f"INTERRUPTED: partial result: {done} of {plural(len(cases), 'case')} passed")
        return EXIT_INCOMPLETE
    if incomplete:
        one = len(incomplete) == 1
        click.echo(f"INCOMPLETE: {'case' if one else 'cases'} {', '.join(map(str, incomplete))} did not "
                   f"reach quiet within {'its' if one else 'their'} bound of deliveries")
        return EXIT_INCOMPLETE
    click.echo(f"PASSED: {target}")
    return EXIT_OK


def _crash_points(driver: Any, asked: tuple[str, ...] | None, adapter: str) -> tuple[str, ...]:
    """The points asked for (all by default) that ``driver`` honours: a spec adapter arms
    every point unless it says otherwise (``crash_points``); naming one it cannot honour
    is a usage error."""
    from sagaspec.adapters.broker import redact
    from sagaspec.adapters.crash import CRASH_POINTS
    from sagaspec.errors import UsageError

    honoured = tuple(getattr(driver, "crash_points", None) or CRASH_POINTS)
    if asked is not None:
        missing = [p for p in asked if p not in honoured]
        if missing:
            driver.close()
            raise UsageError(f"--crash-points {','.join(missing)}: the adapter {redact(adapter)} cannot crash "
                             f"there; it crashes at {', '.join(honoured)}")
    return tuple(p for p in (asked or CRASH_POINTS) if p in honoured)


def _key(f: Any) -> tuple[str, str, str]:
    return (f.check, f.participant, f.event)


def parse_faults(text: str | None, no_faults: bool) -> tuple[str, ...]:
    """``--faults duplicates,crash`` (``none``: no faults) as a tuple in a fixed order."""
    from sagaspec.conformance.spec_conform import FAULTS
    from sagaspec.errors import UsageError

    if no_faults:
        if text is not None:
            raise UsageError("use either --faults or --no-faults")
        return ()
    if text is None:
        return FAULTS
    chosen = {t.strip() for t in text.split(",") if t.strip()}
    if chosen == {"none"}:
        return ()
    unknown = sorted(chosen - set(FAULTS))
    if unknown:
        raise UsageError(f"--faults: unknown fault kind {', '.join(unknown)}; expected a comma list of "
                         f"{', '.join(FAULTS)} (or none)")
    return tuple(k for k in FAULTS if k in chosen)
