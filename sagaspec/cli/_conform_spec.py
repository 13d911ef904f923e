"""``sagaspec conform --spec FILE``: any spec's services, judged case by case."""

from __future__ import annotations

import random
import shlex
import sys
import time

import click

__all__ = ["conform_spec"]

EXIT_OK, EXIT_FAILED, EXIT_INCOMPLETE = 0, 1, 3


def conform_spec(spec_ref: str, adapter: str | None, participant: str, examples: int, seed: int | None,
                 case: int | None, mutant: str | None, timeout: float, faults: bool) -> int:
    """Run the cases; print the verdict; the exit status."""
    from sagaspec.conformance.spec_conform import case_seed, load_spec_adapter, run_case
    from sagaspec.spec.sagafile import resolve_spec

    spec = resolve_spec(spec_ref)
    adapter = adapter or "inprocess"
    seed = random.randrange(2**31) if seed is None else seed
    cases = [case] if case is not None else list(range(examples))
    target = f"{adapter} as {participant} of the {spec.name} spec" + (f", mutant {mutant}" if mutant else "")
    driver = load_spec_adapter(adapter, spec, participant, mutant, timeout)
    click.echo(f"sagaspec conform: {target}, {len(cases)} case(s), seed {seed}")
    live = sys.stderr.isatty()
    t0 = time.perf_counter()
    done = steps = events = 0
    incomplete: list[int] = []
    failed = None
    interrupted = False
    try:
        for k in cases:
            s = case_seed(seed, k)
            result = run_case(spec, driver, s, sagas=1 + s % 3, crashes=faults, duplicates=faults)
            done += 1
            steps += result.steps
            events += result.events
            if live:
                sys.stderr.write(f"\rcase {done}/{len(cases)}")
                sys.stderr.flush()
            if result.failures:
                failed = (k, result)
                break
            if not result.complete:
                incomplete.append(k)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        driver.close()
        if live:
            sys.stderr.write("\r\033[K")
    secs = max(time.perf_counter() - t0, 1e-9)
    if failed is not None:
        k, result = failed
        f = result.failures[0]
        click.echo(f"FAILED {f.check}: case {k} ({result.sagas} saga(s)): {f.message}")
        click.echo("  what the suite did (last steps), and what came out:")
        for line in result.log[-12:]:
            click.echo(f"    {line}")
        words = ["sagaspec", "conform", "--spec", spec_ref, "--adapter", adapter,
                 "--participant", participant, "--seed", str(seed), "--case", str(k)]
        if mutant:
            words += ["--mutant", mutant]
        if not faults:
            words.append("--no-faults")
        click.echo("Reproduce with: " + " ".join(shlex.quote(w) for w in words))
    click.echo(f"{done} case(s), {steps} deliveries, {events} events in {secs:.1f}s "
               f"({done / secs:.1f} cases/s)")
    if failed is not None:
        click.echo(f"FAILED: {target}")
        return EXIT_FAILED
    if interrupted:
        click.echo(f"INTERRUPTED: partial result: {done} of {len(cases)} case(s) passed")
        return EXIT_INCOMPLETE
    if incomplete:
        click.echo(f"INCOMPLETE: case(s) {', '.join(map(str, incomplete))} did not reach quiet "
                   "within their bound of deliveries")
        return EXIT_INCOMPLETE
    click.echo(f"PASSED: {target}")
    return EXIT_OK
