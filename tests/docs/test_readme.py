"""The README: its contents list matches its sections, and its commands run verbatim from a
fresh folder with the exit status the README states.

Every command the README shows (a ``$`` line of a console block, a line of a sh/bash
block) must be in exactly one table below: run here (with its expected exit status), or
named with the test that runs it. A command added to the README and to no table fails
:func:`test_every_readme_command_is_accounted_for`.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from sagaspec.cli import main


def _bash(args: list[str], *, timeout: float = 240, input: str | None = None, **kw) -> subprocess.CompletedProcess:
    """``subprocess.run(["bash", *args])`` in its own process group, which is killed when
    it ends: a background server of a README block never outlives its test (a timeout
    or a failed step skips the block's own ``trap``; a leaked server kept the README's
    port taken for every later run)."""
    with subprocess.Popen(["bash", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                          text=True, start_new_session=True, **kw) as proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

README = Path(__file__).resolve().parents[2] / "README.md"
TEXT = README.read_text(encoding="utf-8")

pytestmark = pytest.mark.timeout(300)


def _blocks(text: str) -> list[tuple[str, str, str]]:
    """(section heading, language, body) of every fenced code block."""
    out, section = [], ""
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith("## "):
            section = line[3:].strip()
        m = re.match(r"^```(\w*)", line)
        if m:
            body = []
            for inner in lines:
                if inner.startswith("```"):
                    break
                body.append(inner)
            out.append((section, m.group(1), "\n".join(body)))
    return out


def commands(text: str = TEXT) -> list[tuple[str, str]]:
    """(section, command) for every command shown, continuation lines joined."""
    out = []
    for section, lang, body in _blocks(text):
        if lang == "console":
            out += [(section, line[2:].strip()) for line in body.splitlines() if line.startswith("$ ")]
        elif lang in ("sh", "bash"):
            joined = re.sub(r"\\\n\s*", "", body)
            out += [(section, line.strip()) for line in joined.splitlines()
                    if line.strip() and not line.strip().startswith("#")]
    return out


def readme_files(text: str = TEXT) -> dict[str, str]:
    """Files the README defines: a python block whose first line is ``# path.py``, or that
    follows a sentence ending in ``file `path.py`:``."""
    files: dict[str, str] = {}
    prose = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```python"):
            body = []
            i += 1
            while not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            first = re.match(r"^# ([\w/.-]+\.py)$", body[0]) if body else None
            named = re.search(r"`([\w/.-]+\.py)`:$", prose)
            if first or named:
                files[(first or named).group(1)] = "\n".join(body) + "\n"
        elif line.strip():
            prose = line.strip()
        i += 1
    return files


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


# Run by this file, in process (sagaspec check/lint/...): command -> exit status.
RUN_HERE = {
    "sagaspec check": 0,
    "sagaspec check --design seed": 1,
    "sagaspec check --design seed --property saga-terminates": 1,
    "sagaspec check --design seed --report check.html": 1,
    "sagaspec docs --design corrected --out site": 0,
    "sagaspec check                      # corrected design, 2 orders, 1 duplicate": 0,
    "sagaspec lint --design seed        # exit 1: the seed's holes": 1,
    "sagaspec lint --design corrected   # exit 0: clean (also the default: sagaspec lint)": 0,
    "sagaspec schemas list                          # event, schemaVersion, publisher, $id": 0,
    "sagaspec schemas show PaymentProcessed         # the 2020-12 schema": 0,
    "sagaspec schemas show PaymentProcessed --draft 07": 0,
    "sagaspec schemas export out/schemas --draft 07 # one <EventType>.json per event": 0,
    "sagaspec docs --design corrected --out site          # then open site/index.html": 0,
    "sagaspec docs --design seed --out site-seed          # the seed's holes, as flows and counterexamples": 0,
    "sagaspec docs asyncapi --design corrected > asyncapi.yaml": 0,
    "sagaspec docs asyncapi --design seed --format json --content-mode structured --address-prefix orders.": 0,
}

# Run by this file in one fresh folder holding the files the README defines, each in its
# own process (as a user types them), in this order within three independent chains (the
# model checks and the seed's trace; the payment conformance runs; the travel starter's
# commands): command -> exit status.
RUN_IN_FOLDER = {
    "sagaspec check --model my_pkg.models:two_phase_commit": 0,
    "sagaspec check --model path/to/models.py:two_phase_commit --bus fifo --crashes 1": 0,
    "sagaspec check --model gate_model.py:SYSTEM --bus unordered                     # weak: exit 1, a lasso (open, close, forever)": 1,
    "sagaspec check --model gate_model.py:SYSTEM --bus unordered --fairness strong   # strong: exit 0": 0,
    "sagaspec check --model twophase_tla.py:SYSTEM --bus set --no-idempotency   # 288 states, as TLC": 0,
    "sagaspec check --design seed --trace-out traces/": 1,
    "sagaspec conform --design seed --participant payment --replay traces/order-saga-seed.refund-needs-charge.json": 1,
    "sagaspec conform --participant payment                          # reference services, in-process": 0,
    "sagaspec conform --participant payment --mutant no-idempotency --seed 4 --report conform.html": 1,
    # schemas, validate, docs and AsyncAPI of a saga spec: the starter spec of `init`
    "sagaspec init travel": 0,
    "sagaspec conform --design travel.saga.yaml -n 20 --seed 1       # any saga: its reference services, in-process": 0,
    "sagaspec schemas list --design travel.saga.yaml           # the events of your own saga": 0,
    "sagaspec schemas export travel-schemas --design travel.saga.yaml --draft 07": 0,
    "echo '{\"eventType\": \"OrderCreated\"}' | sagaspec validate --design travel.saga.yaml -   # exit 1": 1,
    "sagaspec docs --design travel.saga.yaml --out travel-site    # then open travel-site/index.html": 0,
    "sagaspec docs asyncapi --design travel.saga.yaml > travel-asyncapi.yaml": 0,
    # the starter's services in-process: a recorded log, validated; its mutation score
    "python record_log.py": 0,
    "sagaspec monitor --from-file events.ndjson --design travel.saga.yaml --at-rest": 0,
    "sagaspec mutate --design travel.saga.yaml": 0,
}

# Run by this file in a fresh folder holding the files they name: copies of this
# repository's (schemas, sample events, docs/) and a user's own (schema versions to diff,
# event files): command -> exit status.
RUN_ON_PREPARED_FILES = {
    "sagaspec schemas export spec/schemas/2020-12 --check   # exit 1 if the files drifted": 0,
    "sagaspec validate tests/data/spec/seed_events.json     # exit 0": 0,
    "sagaspec validate events.ndjson more.json -            # - reads stdin": 0,
    "sagaspec validate --format json events.ndjson          # machine-readable": 0,
    "sagaspec schemas diff old/OrderCreated.json new/OrderCreated.json": 0,
    "sagaspec schemas diff old-schemas/ new-schemas/ --format json": 0,
    "sagaspec docs --design corrected --out docs --diff   # exit 1 if docs/ is out of date": 0,
    "sagaspec lint --design mypkg.designs:MINE --format json   # your own Design object": 0,
}

# Run by this file through bash (a block that needs a shell: a background server).
RUN_AS_SCRIPT = {
    "sagaspec serve --port 8765 &",
    "sagaspec conform --adapter http://127.0.0.1:8765 --participant system -n 20",
    "kill $!",
}

# "Test your own services": its two blocks, run through bash in one fresh folder by
# test_test_your_own_services_runs_verbatim: command -> exit status.
RUN_SPEC_SERVE = {
    "sagaspec init travel": 0,
    "sagaspec serve --spec travel.saga.yaml --port 8766 &": 0,
    "sagaspec conform --spec travel.saga.yaml --adapter http://127.0.0.1:8766 --participant system -n 20 --seed 1": 0,
    "sagaspec conform --design travel.saga.yaml --adapter http://127.0.0.1:8766 --participant system -n 10 --seed 1": 0,
    "kill $!": 0,
    "sagaspec serve --spec travel.saga.yaml --mutant skip-compensation-1 --port 8767 &": 0,
    "sagaspec conform --spec travel.saga.yaml --adapter http://127.0.0.1:8767 --participant system -n 20 --seed 1": 1,
}

# "Test your own services", step 4: the foreign billing service over RabbitMQ, run
# through bash from the repository's folder by test_a_service_behind_a_broker_runs_verbatim.
RUN_BROKER_MAPPING = {
    "python -m sagaspec.examples.foreign_billing --exchange billing-$$ &": 0,
    "sagaspec conform --spec examples/sagas/shop.saga.yaml --participant payment --adapter "
    "\"amqp://guest:guest@127.0.0.1:5672/?exchange=billing-$$\" --mapping examples/foreign_billing.toml "
    "--faults duplicates,reorder,invalid -n 20 --seed 1": None,  # 0, then 1 (the buggy variant)
    "kill $!": 0,
    "python -m sagaspec.examples.foreign_billing --exchange billing-$$ --bug refund-in-dollars &": 0,
}

# "Test your own services", step 5: the foreign shop as a whole system over RabbitMQ and
# REST, run through bash from the repository's folder by test_a_whole_foreign_system_runs_verbatim.
SHOP_CONFORM = ("sagaspec conform --spec examples/sagas/shop.saga.yaml --participant system --adapter "
                "\"amqp://guest:guest@127.0.0.1:5672/?exchange=shop-$$&http=http://127.0.0.1:8183\" "
                "--mapping examples/foreign_shop.toml -n 10 --seed 1")
RUN_WHOLE_SYSTEM = {
    "python -m sagaspec.examples.foreign_shop --exchange shop-$$ --port 8183 &": 0,
    SHOP_CONFORM: None,  # 0, then 1 (the buggy variant)
    "kill $!": 0,
    "python -m sagaspec.examples.foreign_shop --exchange shop-$$ --port 8183 --bug ships-declined &": 0,
}

# Not run verbatim by any test yet (each needs files, services or packages the README
# does not create in a fresh folder): the list of what is left to run verbatim.
NOT_YET_RUN = {
    "python -m pip install .",  # .ci/run installs the package (never from a test)
    "python -m pip install . && sagaspec check",
    "python -m pip install -e '.[dev]' && ruff check . && python -m pytest",  # .ci/run, to the letter
    # need a service of the user's, or files of this repository (not a fresh folder)
    "sagaspec conform --adapter http://127.0.0.1:8080 --participant system -n 500",
    "sagaspec conform --adapter inprocess:my_pkg.testing:make_payment --participant payment --junit-xml conform.xml --ndjson conform.ndjson --report conform.html",
    # need the brokers and database of .ci/services.sh, and minutes
    "sagaspec conform --adapter nats://127.0.0.1:4222 --participant system",
    "sagaspec conform --adapter 'amqp://guest:guest@127.0.0.1:5672/' --participant payment",
    "sagaspec conform --adapter 'redis://127.0.0.1:6379/0' --participant system",
    "python -m sagaspec.examples.runner --service payment      --broker nats://127.0.0.1:4222 &",
    "python -m sagaspec.examples.runner --service inventory    --broker nats://127.0.0.1:4222 &",
    "python -m sagaspec.examples.runner --service notification --broker nats://127.0.0.1:4222 &",
    "python -m sagaspec.examples.runner --service order        --broker nats://127.0.0.1:4222 --db postgresql://postgres@127.0.0.1:5432/test &",
    "sagaspec conform --adapter 'nats://127.0.0.1:4222?spawn=1' --participant system -n 50",
    "sagaspec conform --adapter 'amqp://guest:guest@127.0.0.1:5672/?spawn=1' --participant payment --mutant no-idempotency",
    "sagaspec faults --adapter nats://127.0.0.1:4222 --sagas 200 --kills 10 --seed 1",
    "sagaspec faults --adapter 'amqp://guest:guest@127.0.0.1:5672/' --db postgresql://postgres@127.0.0.1:5432/test",
    "sagaspec faults --adapter redis://127.0.0.1:6379/0 --mutant crash-loses-acked-event --kill payment",
    "python bench/bench_check.py --sagas 3 --sagas 5 --max-states 10000",  # bench/: minutes, not CI
    "python bench/soak.py                      # 1,000 sagas, 30 kills, on each broker",
    "python bench/soak.py --brokers nats --sagas 5000 --kills 100 --db postgresql://postgres@127.0.0.1:5432/test",
    "sagaspec monitor --adapter nats://127.0.0.1:4222 --timeout 30",
    "sagaspec monitor --adapter 'redis://127.0.0.1:6379/0?ns=shop' --duration 600 --ndjson violations.ndjson --fail-on-violation --summary-json summary.json",
}


def _unaccounted() -> list[str]:
    known = (set(RUN_HERE) | set(RUN_IN_FOLDER) | set(RUN_ON_PREPARED_FILES) | RUN_AS_SCRIPT | NOT_YET_RUN
             | set(RUN_SPEC_SERVE) | set(RUN_BROKER_MAPPING) | set(RUN_WHOLE_SYSTEM))
    return [cmd for section, cmd in commands() if cmd not in known and section not in ELSEWHERE]


# Sections whose every command another test walks verbatim: section -> that test.
ELSEWHERE: dict[str, str] = {
    "Write your own saga": "tests/spec/test_example_sagas.py::test_readme_write_your_own_saga_runs_verbatim",
}


def test_the_tests_named_for_other_sections_exist():
    root = Path(__file__).resolve().parents[2]
    for test in ELSEWHERE.values():
        path, _, name = test.partition("::")
        assert f"def {name}(" in (root / path).read_text(encoding="utf-8"), test


def test_contents_lists_every_section():
    headings = [line[3:].strip() for line in TEXT.splitlines() if line.startswith("## ")]
    assert headings[0] == "Contents"
    listed = re.findall(r"^- \[(.+?)\]\(#(.+?)\)$", TEXT.split("## Contents", 1)[1].split("\n## ", 1)[0], re.M)
    assert [name for name, _a in listed] == headings[1:]
    assert [anchor for _n, anchor in listed] == [_slug(h) for h in headings[1:]]


def test_the_tour_comes_first():
    headings = [line[3:].strip() for line in TEXT.splitlines() if line.startswith("## ")]
    assert headings[:2] == ["Contents", "Five-minute tour"]
    tour = [cmd for section, cmd in commands() if section == "Five-minute tour"]
    assert tour == [
        "python -m pip install .",
        "sagaspec check",
        "sagaspec check --design seed",
        "sagaspec check --design seed --property saga-terminates",
        "sagaspec serve --port 8765 &",
        "sagaspec conform --adapter http://127.0.0.1:8765 --participant system -n 20",
        "kill $!",
        "sagaspec docs --design corrected --out site",
        "sagaspec check --design seed --report check.html",
    ]


# argv -> (exit code, output, stdout) of its run: README lines that differ only by their
# comment are one command, run once per process (each in a fresh folder).
_RAN_HERE: dict[tuple[str, ...], tuple[int, str, str]] = {}


@pytest.mark.parametrize("cmd", sorted(RUN_HERE))
def test_readme_command_runs_verbatim(cmd, tmp_path, monkeypatch):
    assert cmd in [c for _s, c in commands()], f"no longer in the README: {cmd}"
    monkeypatch.chdir(tmp_path)  # a fresh folder
    line = cmd.split("#", 1)[0] if " #" in cmd else cmd
    redirect = None
    if ">" in line:
        line, _, target = line.partition(">")
        redirect = tmp_path / target.strip()
    argv = shlex.split(line)
    assert argv[0] == "sagaspec"
    if tuple(argv) not in _RAN_HERE:
        r = CliRunner().invoke(main, argv[1:])
        _RAN_HERE[tuple(argv)] = (r.exit_code, r.output, r.stdout)
    exit_code, output, stdout = _RAN_HERE[tuple(argv)]
    assert exit_code == RUN_HERE[cmd], (cmd, output[-2000:])
    assert "Traceback" not in output
    if redirect is not None:
        redirect.write_text(stdout)
        assert redirect.stat().st_size > 1000


def _sample_matches(sample: str, output: str) -> list[str]:
    """The sample's lines that the output does not show, in order: a ``...`` line skips
    any lines, ``...`` inside a line stands for any text, blank lines are layout."""
    out = output.splitlines()
    i, missing = 0, []
    for line in sample.splitlines():
        if not line.strip() or line.strip() == "...":
            continue
        pattern = re.compile(".*".join(map(re.escape, line.rstrip().split("..."))) + r"\s*$")
        j = next((k for k in range(i, len(out)) if pattern.fullmatch(out[k])), None)
        if j is None:
            missing.append(line)
        else:
            i = j + 1
    return missing


# Sample outputs the README shows after a command run here: the sample's first line -> argv.
TEXT_SAMPLES = {
    "Violation 1/1: saga-terminates": ["check", "--design", "seed", "--property", "saga-terminates"],
    "Violation 1/1: single-charge": ["check", "--design", "seed", "--no-idempotency", "--property", "single-charge"],
}


def _samples() -> list[tuple[list[str], str]]:
    """(argv, sample output) of every console block of one command run here that shows
    its output, and of every text block named in TEXT_SAMPLES."""
    out = []
    for _section, lang, body in _blocks(TEXT):
        lines = body.splitlines()
        if lang == "console" and sum(line.startswith("$ ") for line in lines) == 1 and len(lines) > 1:
            cmd = lines[0][2:].strip()
            if cmd in RUN_HERE:
                out.append((shlex.split(cmd.split(" #", 1)[0])[1:], "\n".join(lines[1:])))
        elif lang == "text":
            argv = next((a for first, a in TEXT_SAMPLES.items() if lines and lines[0].startswith(first)), None)
            if argv is not None:
                out.append((argv, body))
    return out


def test_the_sample_outputs_are_what_the_commands_print():
    samples = _samples()
    assert len(samples) >= 4 and {tuple(a) for a, _s in samples} >= {tuple(a) for a in TEXT_SAMPLES.values()}
    for argv, sample in samples:
        r = CliRunner().invoke(main, argv)
        assert _sample_matches(sample, r.output) == [], (argv, r.output[-3000:])


def test_a_stale_sample_line_is_found():
    out = "sagaspec check: x\n  model:  sagas=2 units=1\nVerdict: all 15 properties hold (exhaustive, 4 states)\n"
    assert _sample_matches("  model:  sagas=2 ...\n...\nVerdict: all 15 properties hold (...)", out) == []
    assert _sample_matches("  model:  orders=2 stock=1\n", out) == ["  model:  orders=2 stock=1"]
    assert _sample_matches("Verdict: all ...\n  model:  sagas=2 ...", out) == ["  model:  sagas=2 ..."]


def _env(home: Path) -> dict[str, str]:
    """A user's environment: the installed sagaspec on PATH, no PYTHONPATH. Only where
    bytecode is cached is the suite's (tests/conftest.py): a command neither compiles
    what the suite compiled already nor writes ``__pycache__`` into the checkout."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(home)}
    if os.environ.get("PYTHONPYCACHEPREFIX"):
        env["PYTHONPYCACHEPREFIX"] = os.environ["PYTHONPYCACHEPREFIX"]
    return env


def test_readme_files_and_the_commands_that_use_them_run_verbatim(tmp_path):
    files = readme_files()
    assert "my_pkg/models.py" in files and "gate_model.py" in files
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    # the README's second form names the same model by file path
    (tmp_path / "path/to").mkdir(parents=True)
    (tmp_path / "path/to/models.py").write_text(files["my_pkg/models.py"])
    shown = [c for _s, c in commands()]
    for cmd in RUN_IN_FOLDER:
        assert cmd in shown, f"no longer in the README: {cmd}"
    # Three chains that use nothing of each other's run side by side; each runs its
    # commands in the README's order.
    cmds = list(RUN_IN_FOLDER)
    chains = [cmds[:7], cmds[7:9], cmds[9:]]
    assert chains[0][-2:] == [c for c in cmds if "traces/" in c]  # the seed's trace, then its replay
    assert all("conform --participant payment" in c for c in chains[1])
    assert chains[2][0] == "sagaspec init travel"

    def run_chain(chain: list[str]) -> list[tuple[str, subprocess.CompletedProcess]]:
        return [(cmd, _bash(["-c", cmd], cwd=tmp_path, timeout=240, env=_env(tmp_path))) for cmd in chain]

    with ThreadPoolExecutor(len(chains)) as pool:
        runs = dict(run for done in pool.map(run_chain, chains) for run in done)
    for cmd, code in RUN_IN_FOLDER.items():
        run = runs[cmd]
        assert run.returncode == code, (cmd, run.stdout[-1500:], run.stderr[-1500:])
        assert "Traceback" not in run.stderr, (cmd, run.stderr)


def test_readme_commands_on_prepared_files_run_verbatim(tmp_path):
    import json
    import shutil

    from sagaspec.spec.examples import examples_for

    root = README.parent
    shutil.copytree(root / "spec/schemas/2020-12", tmp_path / "spec/schemas/2020-12")
    (tmp_path / "tests/data/spec").mkdir(parents=True)
    shutil.copy(root / "tests/data/spec/seed_events.json", tmp_path / "tests/data/spec/")
    shutil.copytree(root / "docs", tmp_path / "docs")
    for folder in ("old-schemas", "new-schemas"):
        assert CliRunner().invoke(main, ["schemas", "export", str(tmp_path / folder)]).exit_code == 0
    for old, new in (("old-schemas", "old"), ("new-schemas", "new")):
        (tmp_path / new).mkdir()
        shutil.copy(tmp_path / old / "OrderCreated.json", tmp_path / new / "OrderCreated.json")
    events = [e for t in ("OrderCreated", "PaymentProcessed") for e in examples_for(t)]
    (tmp_path / "events.ndjson").write_text("".join(json.dumps(e) + "\n" for e in events))
    (tmp_path / "more.json").write_text(json.dumps(events[0]))
    (tmp_path / "mypkg").mkdir()  # the user's own Design object, importable from the folder
    (tmp_path / "mypkg/designs.py").write_text(
        "from sagaspec.spec.designs import DESIGNS\n\nMINE = DESIGNS['corrected']\n")
    shown = [c for _s, c in commands()]
    for cmd in RUN_ON_PREPARED_FILES:
        assert cmd in shown, f"no longer in the README: {cmd}"

    def run_one(cmd: str) -> subprocess.CompletedProcess:
        return _bash(["-c", cmd], cwd=tmp_path, timeout=240, env=_env(tmp_path), input=json.dumps(events[-1]) + "\n")

    with ThreadPoolExecutor(4) as pool:  # (they only read the prepared files: side by side)
        runs = dict(zip(RUN_ON_PREPARED_FILES, pool.map(run_one, RUN_ON_PREPARED_FILES), strict=True))
    for cmd, code in RUN_ON_PREPARED_FILES.items():
        run = runs[cmd]
        assert run.returncode == code, (cmd, run.stdout[-1500:], run.stderr[-1500:])
        assert "Traceback" not in run.stderr, (cmd, run.stderr)


def test_tour_serve_and_conform_block_runs_verbatim(tmp_path):
    block = next(body for section, lang, body in _blocks(TEXT)
                 if section == "Five-minute tour" and "sagaspec serve" in body)
    assert set(block.splitlines()) == RUN_AS_SCRIPT
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 8765)) == 0:
            pytest.fail("port 8765 (the README tour's) is in use by another process")
    # The block verbatim, after a trap that stops the background server however it ends.
    script = "trap 'kill $(jobs -p) 2>/dev/null' EXIT\n" + block
    run = _bash(["-e", "-c", script], cwd=tmp_path,
                         timeout=240, env=_env(tmp_path))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "PASSED: http://127.0.0.1:8765 as system of the corrected design" in run.stdout


def test_test_your_own_services_runs_verbatim(tmp_path):
    blocks = [body for section, lang, body in _blocks(TEXT) if section == "Test your own services" and lang == "sh"
              and "foreign_billing" not in body and "foreign_shop" not in body]
    lines = [line for body in blocks for line in body.splitlines()]
    assert set(lines) == set(RUN_SPEC_SERVE) and len(blocks) == 2
    for port in (8766, 8767):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(f"port {port} (the README's) is in use by another process")
    # Each line verbatim, in order, its exit status recorded after it; a trap stops the
    # background servers however the script ends.
    script = "trap 'kill $(jobs -p) 2>/dev/null' EXIT\n" + "".join(
        f"{line}\necho \"status $? of line {i}\"\n" for i, line in enumerate(lines))
    run = _bash(["-c", script], cwd=tmp_path,
                         timeout=240, env=_env(tmp_path))
    out = run.stdout
    for i, line in enumerate(lines):
        assert f"status {RUN_SPEC_SERVE[line]} of line {i}\n" in out, (line, out[-3000:], run.stderr[-2000:])
    assert "PASSED: http://127.0.0.1:8766 as system of the travel spec" in out
    # The failure the README shows, as it shows it.
    shown = next(body for section, lang, body in _blocks(TEXT) if section == "Test your own services" and lang == "text")
    for line in shown.splitlines():
        if line.strip() != "...":
            assert line in out, (line, out[-3000:])
    assert "Traceback" not in run.stderr


def test_every_readme_command_is_accounted_for():
    assert _unaccounted() == []


def test_a_service_behind_a_broker_runs_verbatim(tmp_path):
    block = next(body for section, lang, body in _blocks(TEXT)
                 if section == "Test your own services" and lang == "sh" and "foreign_billing" in body)
    lines = block.splitlines()
    assert set(lines) == set(RUN_BROKER_MAPPING)
    root = README.parent
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 5672)) != 0:
            pytest.fail("RabbitMQ is not reachable at 127.0.0.1:5672: start it with `bash .ci/services.sh`")
    script = "trap 'kill $(jobs -p) 2>/dev/null' EXIT\n" + "".join(
        f"{line}\necho \"status $? of line {i}\"\n" for i, line in enumerate(lines))
    run = _bash(["-c", script], cwd=root, timeout=240,
                         env=_env(tmp_path))
    out = run.stdout
    expected = [0, 0, 0, 0, 1, 0]  # the buggy variant's run fails
    for i, code in enumerate(expected):
        assert f"status {code} of line {i}\n" in out, (lines[i], out[-3000:], run.stderr[-2000:])
    assert out.count("PASSED: amqp://guest:***@127.0.0.1:5672/?exchange=billing-") == 1
    assert "FAILED provenance: " in out
    assert ("payment published PaymentRefunded.amount = '1.00'; the spec says it is "
            "PaymentCharged.amount = '100.00'") in out
    assert "Traceback" not in run.stderr


def test_a_whole_foreign_system_runs_verbatim(tmp_path):
    block = next(body for section, lang, body in _blocks(TEXT)
                 if section == "Test your own services" and lang == "sh" and "foreign_shop" in body)
    lines = block.splitlines()
    assert set(lines) == set(RUN_WHOLE_SYSTEM)
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 5672)) != 0:
            pytest.fail("RabbitMQ is not reachable at 127.0.0.1:5672: start it with `bash .ci/services.sh`")
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 8183)) == 0:
            pytest.fail("port 8183 (the README's) is in use by another process")
    script = "trap 'kill $(jobs -p) 2>/dev/null' EXIT\n" + "".join(
        f"{line}\necho \"status $? of line {i}\"\n" for i, line in enumerate(lines))
    run = _bash(["-c", script], cwd=README.parent, timeout=240,
                         env=_env(tmp_path))
    out = run.stdout
    for i, code in enumerate([0, 0, 0, 0, 1, 0]):  # the buggy variant's run fails
        assert f"status {code} of line {i}\n" in out, (lines[i], out[-3000:], run.stderr[-2000:])
    assert out.count("PASSED: amqp://guest:***@127.0.0.1:5672/?exchange=shop-") == 1
    assert "FAILED model: " in out
    assert re.search(r"payment on StockReserved of saga \S+ published \[PaymentCharged\]; "
                     r"the spec allows \[PaymentDeclined\]", out), out[-3000:]
    assert "Traceback" not in run.stderr


def test_a_readme_block_that_times_out_leaves_no_background_server(tmp_path):
    """A block's ``trap`` does not run when the test kills bash on a timeout: the group
    kill is what stops its background server (a leaked one held the README's port)."""
    pid_file = tmp_path / "pid"
    with pytest.raises(subprocess.TimeoutExpired):
        _bash(["-c", f"trap 'kill $(jobs -p)' EXIT; sleep 300 & echo $! > {pid_file}; sleep 300"],
              timeout=1.5)
    pid = int(pid_file.read_text())

    def state() -> str:
        try:
            return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            return "gone"

    # The background sleep is gone (or a zombie waiting for init to reap it). SIGKILL is
    # delivered when the process next runs: on a loaded machine it may still show R for a
    # moment (seen from a fresh clone), so wait for it to die; a leak never does.
    deadline = time.monotonic() + 10
    while state() not in ("gone", "Z") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert state() in ("gone", "Z"), f"background process {pid} still running (state {state()})"
