"""``sagaspec mutate``: the mutation score of the black-box suite on any saga spec."""

from __future__ import annotations

import json

import click

from sagaspec.cli._plural import plural
from sagaspec.errors import UsageError

__all__ = ["mutate"]


@click.command("mutate")
@click.option("--design", "--spec", "design", metavar="NAME|FILE", default="corrected", show_default=True,
              help="A shipped design or a saga spec file.")
@click.option("-n", "--examples", type=click.IntRange(min=1), default=30, show_default=True,
              help="Random schedules per mutant before the model-directed case.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random schedules.")
@click.option("--operator", "operators", multiple=True, metavar="NAME",
              help="Only this operator (repeatable): drop-guard, skip-compensation, wrong-event, "
                   "forget-update, swap-world, no-idempotency, wrong-saga, re-emit, drop-conjunct, "
                   "drop-join, drop-subscription, fixed-world, upsert, redo-duplicate, wrong-type, "
                   "volatile-idempotency, mark-before-work, publish-before-commit, trusts-input.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def mutate(design: str, examples: int, seed: int, operators: tuple[str, ...], as_json: bool) -> None:
    """Run the suite against every mutant of a saga spec and print the mutation score.

    Each mutant is the reference interpreter running the spec with one fault (a guard or
    one of its conjuncts dropped, a compensation skipped, the wrong event, a forgotten
    update, a world decision swapped or ignored, a join that stops waiting, a
    subscription dropped) or a faulty service behaviour (no idempotency store, a
    volatile one, a wrong sagaId, an outcome re-published or a redelivery redone, a
    record upserted, the processed mark committed first, publishing before the commit,
    a wrongly typed field, unvalidated input). The oracle is the original spec.
    A mutant is tried on random schedules (sagas interleaved, duplicates, crashes at
    every crash point, random worlds); if none catches it, on the shortest history of
    deliveries that tells its model from the spec's. A mutant no history tells apart is
    reported as equivalent, with why.

    The spec's own reference services are run first on the same schedules: when they
    fail (the design breaks its own properties) no mutant is scored.

    Exit 0 when every mutant that is not equivalent is caught, 1 when one survives or
    the reference fails.
    """
    from sagaspec.conformance.mutate import OPERATOR_NAMES, reference_failure, score
    from sagaspec.spec.sagafile import resolve_spec

    unknown = sorted(set(operators) - set(OPERATOR_NAMES))
    if unknown:
        raise UsageError(f"unknown operator {', '.join(unknown)}; expected one of {', '.join(sorted(OPERATOR_NAMES))}")
    spec = resolve_spec(design)
    broken = reference_failure(spec, examples=examples, seed=seed)
    if broken is not None:
        # Every mutant would be "caught" by the design's own fault: a score means nothing.
        failure, run_seed = broken
        message = (f"{spec.name}: the spec's own reference services fail it (schedule seed {run_seed}): "
                   f"{failure}; fix the design (sagaspec check) before scoring mutants")
        if as_json:
            click.echo(json.dumps({"spec": spec.name, "reference_failure": str(failure), "seed": run_seed}, indent=2))
        else:
            click.echo(message)
        raise SystemExit(1)
    rows = []

    def show(r) -> None:
        rows.append(r)
        if not as_json:
            verdict = "caught" if r.caught else ("equivalent" if r.equivalent else "SURVIVED")
            how = (f"after {plural(r.runs, 'schedule')}" + (" (the model-directed case)" if r.directed else ""))
            if not r.caught:
                how = r.equivalent or f"not caught in {plural(r.runs, 'schedule')} nor by a model-directed case"
            click.echo(f"  {r.mutant.name:<22} {verdict:<10} {r.mutant.description}")
            click.echo(f"  {'':<22} {'':<10} {how}")
            if r.failure is not None:
                click.echo(f"  {'':<22} {'':<10} {r.failure}")

    if not as_json:
        click.echo(f"sagaspec mutate: {spec.name} ({plural(len(spec.participants), 'participant')}), "
                   f"{plural(examples, 'schedule')} per mutant, seed {seed}")
    score(spec, examples=examples, operators=operators or None, seed=seed, on_mutant=show)
    caught = sum(r.caught for r in rows)
    equivalent = sum(bool(r.equivalent) for r in rows)
    survived = [r for r in rows if not r.caught and not r.equivalent]
    judged = len(rows) - equivalent
    if as_json:
        click.echo(json.dumps({
            "spec": spec.name,
            "mutants": [
                {"name": r.mutant.name, "operator": r.mutant.operator, "description": r.mutant.description,
                 "caught": r.caught, "runs": r.runs, "directed": r.directed, "seed": r.seed,
                 "equivalent": r.equivalent or None, "failure": str(r.failure) if r.failure else None}
                for r in rows
            ],
            "caught": caught, "equivalent": equivalent, "survived": len(survived),
            "score": (caught / judged) if judged else 1.0,
        }, indent=2))
    else:
        pct = 100.0 * caught / judged if judged else 100.0
        click.echo(f"\nMutation score: {caught} of {plural(judged, 'non-equivalent mutant')} caught ({pct:.0f}%); "
                   f"{equivalent} equivalent; {len(survived)} survived")
    raise SystemExit(1 if survived else 0)
