"""``sagaspec conform``: run the conformance suite against a service through an adapter.

A thin front end over :class:`sagaspec.conformance.runner.Runner`: a live progress line
(on a terminal), each failure with its shrunk sequence diagram, the messages exchanged,
the property broken and a "Reproduce with:" line, a summary table, model coverage, and
``--junit-xml`` / ``--ndjson`` reports. Exit 0 when every check passed, 1 on any
failure, 2 on a usage or adapter error, 3 when the run is incomplete without a failure
(interrupted, or a replay that could not follow its recorded case).
"""

from __future__ import annotations

import sys
import time

import click
from click.core import ParameterSource
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sagaspec.cli._plural import plural
from sagaspec.cli._types import Finite
from sagaspec.conformance.checks import checks_for
from sagaspec.conformance.events import (
    ExampleFinished,
    FailureFound,
    FailureShrunk,
    RunFinished,
    RunStarted,
)
from sagaspec.conformance.reports import JunitReport, NdjsonReport, failure_text

__all__ = ["conform"]

_STATUS_STYLE = {"passed": "green", "failed": "bold red", "skipped": "yellow",
                 "not-run": "dim", "not-applicable": "dim"}

#: Exit codes, as ``sagaspec check``: passed, failed, usage/adapter error, incomplete.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3


_SUMMARY = """Test a service against the model: hypothesis-generated event sequences, the model
as the oracle, shrunk and replayable failures."""

_HELP = _SUMMARY + """

\b
Examples:
  sagaspec conform --participant payment        # the reference services, in-process
  sagaspec conform --adapter http://127.0.0.1:8080 --participant system -n 500
  sagaspec conform --adapter inprocess:my_pkg.testing:make_payment --participant payment
  sagaspec conform --participant payment --replay .sagaspec/failures/FILE.json
  sagaspec check --design seed --trace-out traces/
  sagaspec conform --design seed --participant payment \\
      --replay traces/order-saga-seed.refund-needs-charge.json
  sagaspec conform --participant inventory --cover-edges
  sagaspec conform --design travel.saga.yaml --participant flight   # any saga
  sagaspec conform --spec travel.saga.yaml                # any saga, seeded schedules
  sagaspec conform --spec travel.saga.yaml --adapter http://127.0.0.1:8766 --participant system

Checks: {checks}.

Exit 0 when every check passed, 1 on a failure, 2 on a usage or adapter error, 3 when
the run is incomplete without a failure (interrupted, or a replay that diverged from its
recorded case, so it neither reproduces nor clears the failure)."""


class _Command(click.Command):
    """``conform``, whose help lists the checks when it is shown.

    The checks are read from the shipped spec through the models (about 0.1 s of CPU),
    which ``sagaspec --help`` listing this command by its summary (the help's first
    paragraph, all click reads for it) need not pay.
    """

    @property
    def help(self) -> str:
        return _HELP.format(checks=", ".join(checks_for("corrected")))

    @help.setter
    def help(self, value: str | None) -> None:  # click sets it: the text is made above
        pass

    def get_short_help_str(self, limit: int = 45) -> str:
        # click's own summary of the first paragraph (its helper for it is deprecated in click 8.3+)
        return click.Command(self.name, help=_SUMMARY).get_short_help_str(limit)


def _is_reference(adapter: str) -> bool:
    """Whether ``adapter`` is the shipped reference services (nothing a file can name)."""
    return adapter.split("?", 1)[0] == "inprocess:"


def _replay_settings(replay: str, adapter: str | None, participant: str | None,
                     design: str | None, mutant: str | None, trust_file: bool) -> tuple:
    """Adapter, participant, design and mutant of a replay: the command line's, else the
    case file's; an adapter the file names is used only when it is the reference
    services, the same as the command line's, or with ``--trust-file`` (said first)."""
    from sagaspec.adapters.broker import redact
    from sagaspec.cli._replay import read_trace
    from sagaspec.conformance.cases import CASE_FORMAT, TRACE_FORMAT, case_defaults

    data = read_trace(replay)  # within the file limits, one-line errors, before anything else
    if data.get("format") not in (CASE_FORMAT, TRACE_FORMAT):
        raise click.UsageError(f"--replay {replay}: format {str(data.get('format'))[:80]!r} is "
                               f"neither {CASE_FORMAT!r} (a saved failure) nor {TRACE_FORMAT!r} "
                               "(a model checker trace)")
    found = case_defaults(replay)
    named = found.get("adapter")
    if adapter is None and isinstance(named, str) and named:
        if not _is_reference(named):
            if not trust_file:
                raise click.UsageError(
                    f"--replay {replay}: the case file names the adapter {named}; a case file "
                    f"is data, so sagaspec uses it only if you name it: add --adapter {named} "
                    "(or --trust-file)")
            click.echo(f"using the adapter {redact(named)} named by {replay} (--trust-file)", err=True)
        adapter = named
    elif adapter is not None and isinstance(named, str) and named and named != adapter:
        click.echo(f"replaying on --adapter {redact(adapter)} (the case file names {redact(named)}, not used)",
                   err=True)
    for flag, given, recorded in (("--participant", participant, found.get("participant")),
                                  ("--design", design, found.get("design")),
                                  ("--mutant", mutant, found.get("mutant"))):
        if given is not None and recorded is not None and given != recorded:
            click.echo(f"replaying with {flag} {given or '(none)'} (the case file: {recorded})",
                       err=True)
    participant = participant or found.get("participant")
    design = design or found.get("design")
    mutant = mutant if mutant is not None else found.get("mutant")
    return adapter, participant, design, mutant


#: conform's options that only the generated suite reads (see the --spec branch), by
#: parameter name (``--settle-each-step`` also stands for its ``--no-`` form).
_NOT_WITH_SPEC = ("failures_dir", "max_sagas", "max_steps", "settle_timeout", "settle_each_step",
                  "no_shrink", "cover_orders", "cover_duplicates", "cover_crashes", "no_coverage",
                  "skip_checks", "quiet", "trust_file")


@click.command("conform", cls=_Command)
@click.option("--adapter", "adapter", default=None, metavar="SPEC",
              help="How to reach the service: inprocess:pkg.mod:factory[?k=v], "
                   "http://127.0.0.1:8080, ... ('inprocess:' alone = the reference services; "
                   "the default, or the replayed case file's adapter).")
@click.option("--participant", default=None, metavar="NAME|system",
              help="What the service implements: one participant (the suite plays the "
                   "others and the bus) or the whole system (the suite plays the customer): "
                   "the design's participants (the order designs: order, payment, inventory, "
                   "notification), or with --spec the spec's participants. "
                   "Default: system, or the replayed case file's.")
@click.option("--design", default=None, metavar="NAME|FILE",
              help="The design the service claims to implement: a shipped one (corrected, "
                   "seed) or a saga spec file (.saga.yaml), whose reference services "
                   "'inprocess:' then runs. Default: corrected, or the replayed file's.")
@click.option("--examples", "-n", type=click.IntRange(1), default=100, show_default=True,
              help="Generated test cases (hypothesis max_examples).")
@click.option("--seed", type=int, default=None, help="Hypothesis seed (printed when omitted).")
@click.option("--replay", type=click.Path(dir_okay=False), default=None,
              help="Replay one case file (a saved failure) or model checker trace.")
@click.option("--trust-file", is_flag=True,
              help="With --replay: use the adapter the case file names even if it imports "
                   "code (a case file is data: otherwise only the reference services, or an "
                   "adapter the command line names).")
@click.option("--cover-edges", is_flag=True,
              help="Drive the service along paths covering every edge of the model graph.")
@click.option("--junit-xml", type=click.Path(dir_okay=False), default=None,
              help="Write a JUnit XML report (one test case per check).")
@click.option("--ndjson", type=click.Path(dir_okay=False), default=None,
              help="Write every engine event as one JSON line.")
@click.option("--report", type=click.Path(dir_okay=False), default=None, metavar="FILE.html",
              help="Write a self-contained HTML report: summary, checks, each failure's "
                   "shrunk sequence as an SVG diagram with the exchanged messages, coverage.")
@click.option("--failures-dir", type=click.Path(file_okay=False), default=".sagaspec/failures",
              show_default=True, help="Where failing cases are saved as replayable JSON.")
@click.option("--mutant", default=None, help="Reference services only: run a named mutant.")
@click.option("--mapping", type=click.Path(dir_okay=False), default=None,
              help="Vocabulary mapping file (JSON/TOML) for a service with other event names.")
@click.option("--max-sagas", type=click.IntRange(1, 4), default=2, show_default=True,
              help="Concurrent sagas per test case.")
@click.option("--max-steps", type=click.IntRange(0, 200), default=16, show_default=True,
              help="Generated steps per test case (then everything in flight is delivered).")
@click.option("--collect-timeout", type=Finite(0, 3600), default=0.2, show_default=True,
              help="Seconds to wait for the service to go quiet after a step.")
@click.option("--settle-timeout", type=Finite(0, 3600), default=0.5, show_default=True,
              help="Seconds to wait for quiet at the end of a test case.")
@click.option("--settle-each-step/--no-settle-each-step", default=True, show_default=True,
              help="Treat the service as quiet after each collect (finds a missing reaction "
                   "at the step that needed it); turn off for services that publish long "
                   "after collect returns.")
@click.option("--no-faults", is_flag=True, help="No duplicates, crashes or bad inputs.")
@click.option("--no-shrink", is_flag=True, help="Report failures unshrunk (faster).")
@click.option("--cover-orders", type=click.IntRange(1, 2), default=1, show_default=True,
              help="Coverage bounds: orders in the model graph.")
@click.option("--cover-duplicates", type=click.IntRange(0, 2), default=1, show_default=True,
              help="Coverage bounds: duplicate budget.")
@click.option("--cover-crashes", type=click.IntRange(0, 1), default=0, show_default=True,
              help="Coverage bounds: crash budget per participant.")
@click.option("--no-coverage", is_flag=True, help="Skip the model coverage report.")
@click.option("--no-steer", is_flag=True,
              help="No coverage-guided steering: every delivery and played outcome as drawn "
                   "(by default a case prefers a model transition no earlier case made).")
@click.option("--skip-check", "skip_checks", multiple=True, metavar="CHECK",
              help="Switch a check off (repeatable), e.g. the design properties when the "
                   "service implements the seed design on purpose.")
@click.option("--quiet", "-q", is_flag=True, help="Only failures and the final line.")
@click.option("--spec", "spec_file", default=None, metavar="FILE",
              help="Any saga spec (a .saga.yaml file or a shipped name): seeded schedules "
                   "(sagas interleaved, duplicates, crashes) judged by the spec's model; "
                   "--adapter inprocess (its reference services), the URL of sagaspec serve "
                   "--spec FILE, or a broker URL (amqp://, nats://, redis://) where the "
                   "--participant NAME service consumes, with --mapping FILE for its own "
                   "vocabulary and routing keys.")
@click.option("--case", "case", type=click.IntRange(0), default=None, metavar="K",
              help="With --spec: run only case K of --seed (what 'Reproduce with:' names).")
@click.option("--case-sagas", type=click.IntRange(1, 6), default=None, metavar="N",
              help="With --spec: every case runs N sagas (default: 1 to 3, by case).")
@click.option("--faults", "faults", default=None, metavar="KINDS",
              help="With --spec: the fault kinds to inject, a comma list of duplicates, reorder, "
                   "crash, invalid, or none [default: all].")
@click.option("-x", "--exitfirst", is_flag=True,
              help="With --spec: stop at the first failure instead of reporting every distinct one.")
@click.option("--crash-points", "crash_points", default=None, metavar="POINTS",
              help="Where crashes may land in a participant's handling, a comma list of "
                   "before-commit, after-commit, after-publish [default: all the adapter "
                   "honours]; naming a point the adapter cannot crash at is an error.")
def conform(adapter, participant, design, examples, seed, replay, cover_edges, junit_xml,
            ndjson, failures_dir, mutant, mapping, max_sagas, max_steps, collect_timeout,
            settle_timeout, settle_each_step, no_faults, no_shrink, cover_orders, cover_duplicates,
            cover_crashes, no_coverage, skip_checks, quiet, trust_file=False, report=None,
            spec_file=None, case=None, case_sagas=None, faults=None, exitfirst=False,
            crash_points=None, no_steer=False):
    """``sagaspec conform`` (see ``_HELP``)."""
    points = None
    if crash_points is not None:
        from sagaspec.adapters.crash import parse_crash_points

        try:
            points = parse_crash_points(crash_points)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--crash-points'") from None
    if spec_file is not None:
        from sagaspec.cli._conform_spec import conform_spec

        unsupported = [flag for flag, given in (("--replay", replay), ("--cover-edges", cover_edges),
                                                ("--design", design),
                                                ("--junit-xml", junit_xml), ("--ndjson", ndjson),
                                                ("--report", report)) if given]
        # Options of the generated suite that the spec's seeded cases do not read: named on
        # the command line, they would be silently ignored.
        ctx = click.get_current_context()
        flags = {p.name: (p.secondary_opts or p.opts)[0] if ctx.params.get(p.name) is False and
                 getattr(p, "secondary_opts", None) else p.opts[0] for p in ctx.command.params}
        unsupported += [flags[name] for name in _NOT_WITH_SPEC
                        if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)]
        if unsupported:
            raise click.UsageError(f"{', '.join(unsupported)}: not available with --spec yet")
        from sagaspec.cli._conform_spec import parse_faults

        sys.exit(conform_spec(spec_file, adapter, participant or "system", examples, seed, case,
                              mutant, collect_timeout, parse_faults(faults, no_faults),
                              exitfirst=exitfirst, case_sagas=case_sagas, mapping=mapping,
                              crash_points=points, steer=not no_steer))
    for flag, given in (("--case", case is not None), ("--case-sagas", case_sagas is not None),
                        ("--faults", faults is not None), ("--exitfirst", exitfirst)):
        if given:
            raise click.UsageError(f"{flag} applies only to --spec FILE")
    if replay and cover_edges:
        raise click.UsageError("--replay and --cover-edges are exclusive")
    if replay:
        adapter, participant, design, mutant = _replay_settings(
            replay, adapter, participant, design, mutant, trust_file)
    elif trust_file:
        raise click.UsageError("--trust-file applies only to --replay FILE")
    adapter = adapter or "inprocess:"
    mutant = mutant or None  # --mutant "" overrides a replayed file's mutant with none
    participant = participant or "system"
    design = design or "corrected"
    # Here, not at the top: the engine imports Hypothesis, which `sagaspec --help` (it
    # loads every command for its summary line) and `conform --help` never need.
    from sagaspec.conformance.runner import RunConfig, Runner, participants_of

    names = participants_of(design)  # a design that does not load is an error here
    if participant not in names:
        raise click.BadParameter(f"{participant!r} is not one of {', '.join(map(repr, names))} "
                                 f"(the participants of {design})", param_hint="'--participant'")
    config = RunConfig(
        adapter=adapter, participant=participant, design=design, examples=examples, seed=seed,
        replay=replay, cover_edges=cover_edges, failures_dir=failures_dir, mutant=mutant,
        mapping=mapping, max_sagas=max_sagas, max_steps=max_steps,
        collect_timeout=collect_timeout, settle_timeout=settle_timeout,
        settle_each_step=settle_each_step, faults=not no_faults,
        shrink=not no_shrink, coverage=not no_coverage, cover_orders=cover_orders,
        cover_duplicates=cover_duplicates, cover_crashes=cover_crashes,
        skip_checks=tuple(skip_checks), crash_points=points, steer=not no_steer,
    )
    runner = Runner(config)
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False)
    reports = []
    if ndjson:
        reports.append(NdjsonReport(ndjson))
    if junit_xml:
        reports.append(JunitReport(junit_xml))
    if report:
        from sagaspec.docs.reports import HtmlConformReport

        reports.append(HtmlConformReport(report))
    from sagaspec.adapters.broker import redact

    # The header and verdict lines show a URL's password as ***; "Reproduce with:" and
    # the saved case file keep the URL as given (the runner's adapter_text), to run as is.
    target = f"{redact(adapter)} as {participant} of the {design} design" + (f", mutant {mutant}" if mutant else "")
    view = _View(out, err, quiet, examples, target)
    view.design = design
    final = None
    try:
        try:
            for event in runner.execute():
                final = _dispatch(event, view, reports) or final
        except KeyboardInterrupt:
            runner.stop()
            err.print("\ninterrupted: finishing the current step...", style="yellow")
            for event in runner.remaining():
                final = _dispatch(event, view, reports) or final
    finally:
        view.clear()
        for r in reports:
            r.close()
    if final is None:  # pragma: no cover - the runner always finishes
        sys.exit(EXIT_USAGE)
    if final.failures:
        sys.exit(EXIT_FAILED)
    sys.exit(EXIT_INCOMPLETE if final.interrupted or final.diverged else EXIT_OK)


def _steering_text(st: dict) -> str:
    """What coverage-guided steering did in the run (or that it was off)."""
    if not st.get("on"):
        return ("steering: off (--no-steer): every delivery and played outcome as drawn; "
                "without --no-steer a case prefers a model transition no earlier case made")
    return (f"steering: on: a case prefers the delivery or played outcome whose model "
            f"transition (an event to a participant in a given state) no earlier case made; "
            f"{plural(st['choices'], 'choice')} {'was' if st['choices'] == 1 else 'were'} steered, "
            f"the cases made {plural(st['transitions'], 'distinct transition')}; --no-steer turns it off")


def _dispatch(event, view, reports):
    for r in reports:
        r.handle(event)
    return view.handle(event)


class _View:
    """The terminal front end: progress line, failures, summary."""

    def __init__(self, out: Console, err: Console, quiet: bool, examples: int, target: str) -> None:
        self.out, self.err, self.quiet = out, err, quiet
        self.target = target
        self.design = "corrected"
        self.live = err.is_terminal and not quiet
        self.t0 = time.perf_counter()
        self.examples = examples
        self.generated = self.shrinks = self.events = 0
        self.found: list[str] = []
        self.started: RunStarted | None = None
        self._last = 0.0

    def clear(self) -> None:
        if self.live:
            self.err.file.write("\r\033[K")
            self.err.file.flush()

    def progress(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not self.live or (not force and now - self._last < 0.1):
            return
        self._last = now
        secs = max(now - self.t0, 1e-9)
        text = (f"examples {self.generated}/{self.examples}  events {self.events}  "
                f"{self.generated / secs:.1f} ex/s")
        if self.found:
            text += f"  failing: {', '.join(self.found)}  shrinking ({self.shrinks} tries)"
        self.err.file.write("\r\033[K" + text[: self.err.width - 1])
        self.err.file.flush()

    def handle(self, event):
        if isinstance(event, RunStarted):
            self.started = event
            self.examples = event.examples
            if not self.quiet:
                self.out.print(f"sagaspec conform: {self.target}, mode {event.mode}, seed {event.seed}",
                               markup=False)
                self.out.print(f"adapter hooks: {', '.join(event.capabilities) or 'none'}")
                for name, why in event.skipped.items():
                    self.out.print(f"  skipped {name}: {why}", style="yellow")
        elif isinstance(event, ExampleFinished):
            self.events += event.events
            if event.phase == "shrink":
                self.shrinks += 1
            else:
                self.generated += 1
            self.progress()
        elif isinstance(event, FailureFound):
            self.found.append(event.check)
            self.clear()
            if not self.quiet:
                self.err.print(f"found a failure of [bold]{event.check}[/] after "
                               f"{plural(self.generated, 'example')}; shrinking...", style="red")
            self.progress(force=True)
        elif isinstance(event, FailureShrunk):
            self.clear()
            f = event.failure
            self.out.rule(Text(f"FAILED {f.check}", style="bold red"))
            self.out.print(failure_text(f), markup=False)
            self.out.print()
        elif isinstance(event, RunFinished):
            self.clear()
            self.summary(event)
            return event
        return None

    def summary(self, fin: RunFinished) -> None:
        if not self.quiet:
            table = Table(title="sagaspec conform", show_lines=False)
            table.add_column("check", no_wrap=True)
            table.add_column("status", no_wrap=True)
            table.add_column("cases", justify="right", no_wrap=True)
            table.add_column("what it checks", overflow="fold", ratio=1)
            from sagaspec.conformance.checks import checks_for

            checks = checks_for(self.design)
            for c in fin.checks:
                note = (c.reason if c.status in ("skipped", "not-run", "not-applicable")
                        else checks[c.name].summary)
                table.add_row(c.name, Text(c.status, style=_STATUS_STYLE.get(c.status, "")),
                              str(c.runs), note)
            self.out.print(table)
            if fin.coverage:
                cov = fin.coverage
                b = cov["bounds"]
                self.out.print(
                    f"model coverage: {cov['covered']}/{cov['edges']} edges "
                    f"({100 * cov['share']:.1f}%) of the model graph with {plural(b['orders'], 'order')}, "
                    f"{plural(b['duplicates'], 'duplicate')}, {plural(b['crashes'], 'crash', 'crashes')} "
                    f"per participant; {cov['cases_leaving_bounds']} of {plural(cov['cases'], 'case')} "
                    "left those bounds")
                self.out.print(
                    "  (the share of the model's transitions, within those bounds, that some case "
                    "drove the service through; a case with more orders, duplicates or crashes "
                    "than the bounds is not counted. Random cases walk few of them: "
                    "--cover-edges drives the service along paths that cover every edge, "
                    "--cover-orders/--cover-duplicates/--cover-crashes set the bounds)",
                    style="dim")
                if "steered" in cov:
                    self.out.print(f"  {_steering_text(cov['steered'])}", style="dim")
            for note in fin.notes:
                self.out.print(f"note: {note}", style="yellow")
        secs = max(fin.seconds, 1e-9)
        per_event = 1000 / max(fin.events, 1)
        shrink = f" (+{plural(fin.shrink_runs, 'shrinking run')})" if fin.shrink_runs else ""
        line = (f"{plural(fin.examples, 'example')}{shrink}, {fin.events} events in {fin.seconds:.1f}s "
                f"({fin.examples / secs:.1f} examples/s, {fin.events / secs:.0f} events/s); "
                f"per event: adapter {fin.adapter_seconds * per_event:.2f} ms, oracle "
                f"{fin.oracle_seconds * per_event:.2f} ms")
        self.out.print(line)
        target = self.target
        if fin.interrupted:
            self.out.print("INTERRUPTED: partial result", style="bold yellow")
        if fin.failures:
            self.out.print(f"FAILED: {target}: {', '.join(fin.failures)}", style="bold red")
        elif fin.diverged:
            self.out.print(
                "INCOMPLETE: the replay diverged from its recorded case (see the note above); "
                "it neither reproduces nor clears the recorded failure", style="bold yellow")
        elif not fin.interrupted:
            self.out.print(f"PASSED: {target}", style="bold green")
