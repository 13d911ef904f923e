"""Hostile inputs to every reader of files this project owns and to every HTTP endpoint
of `sagaspec serve`: deep nesting, huge numbers, binary, NUL bytes, huge files, NaN,
negative or infinite options. Each gets a one-line error (or a per-record line for
`validate`), a non-zero exit, no traceback and no hang; the HTTP server answers 4xx (or
202 for bytes it hands to the service to judge), never 5xx, and keeps serving.
"""

from __future__ import annotations

import os
import random
import time

import httpx
import pytest
from click.testing import CliRunner
from sagaspec.examples.httpserver import SagaHTTPServer
from sagaspec.examples.system import make_target

from sagaspec.cli import main

pytestmark = pytest.mark.timeout(240)

rng = random.Random(12)
HOSTILE = {
    "deep-array": b"[" * 100_000 + b"]" * 100_000,
    "deep-object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "deep-in-event": b'{"eventType": "OrderCreated", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "huge-int": b'{"a": ' + b"9" * 5000 + b"}",
    "huge-float": b'{"a": 1' + b"0" * 5000 + b".5}",
    "huge-exponent": b'{"a": 1e999999}',
    "nan": b'{"a": NaN}',
    "binary": bytes(rng.randrange(256) for _ in range(4096)),
    "nul": b"\0" * 1000,
    "empty": b"",
    "bom": b"\xef\xbb\xbf",
    "surrogate": b'{"a": "\\ud800"}',
    "long-string": b'{"a": "' + b"x" * 2_000_000 + b'"}',
    "many-lines": b'{"a": 1}\n' * 20_000 + b"[" * 200 + b"\n",
}


def _invoke(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args[:3]} raised {type(result.exception).__name__}: {result.exception}")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    paths = {}
    for name, data in HOSTILE.items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_bytes(data)
    paths["dev-zero"] = "/dev/zero"
    paths["folder"] = folder
    return paths


_VALID_SCHEMA = (
    __import__("pathlib").Path(__file__).resolve().parents[2] / "spec" / "schemas" / "2020-12" / "OrderCreated.json"
)

READERS = {
    "check --replay": ["check", "--replay"],
    "conform --replay": ["conform", "--replay"],
    "serve --world": ["serve", "--port", "0", "--world"],
}


# JSON objects with odd values ({"a": NaN}, a 2 MB string) are schemas with unknown
# keywords to `schemas diff`: it compares them (exit 0 or 1). The rest must be refused.
_NOT_SCHEMAS = sorted(set(HOSTILE) - {"nan", "huge-exponent", "surrogate", "long-string"})


@pytest.mark.parametrize("name", [*_NOT_SCHEMAS, "dev-zero", "folder"])
def test_schemas_diff_refuses_hostile_files_in_one_line(files, name):
    # a valid old schema first, so the hostile file (the new one) is what is read and refused
    code, out, err = _invoke(["schemas", "diff", str(_VALID_SCHEMA), str(files[name])])
    lines = [line for line in (out + err).splitlines() if line.strip()]
    assert code == 2, (name, out[-500:], err[-500:])
    assert len(lines) == 1 and lines[0].startswith("error: "), lines[:5]


@pytest.mark.parametrize("name", ["nan", "huge-exponent", "surrogate", "long-string"])
def test_schemas_diff_compares_odd_but_valid_objects_without_a_traceback(files, name):
    code, out, err = _invoke(["schemas", "diff", str(_VALID_SCHEMA), str(files[name])])
    assert code in (0, 1, 2) and "Traceback" not in out + err


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("name", [*sorted(HOSTILE), "dev-zero", "folder"])
def test_readers_give_one_line(files, reader, name):
    code, out, err = _invoke([*READERS[reader], str(files[name])])
    lines = [line for line in (out + err).splitlines() if line.strip()]
    assert code == 2, (reader, name, out[-500:], err[-500:])
    assert len(lines) == 1 and lines[0].startswith("error: "), lines[:5]
    assert "Traceback" not in out + err


@pytest.mark.parametrize("name", [*sorted(HOSTILE), "dev-zero"])
def test_validate_reports_and_ends(files, name):
    code, out, err = _invoke(["validate", str(files[name])])
    assert code in (0, 1, 2) and "Traceback" not in out + err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) <= 1
    if name in ("deep-array", "deep-object", "dev-zero", "huge-int", "huge-float", "nan", "binary"):
        assert code != 0


@pytest.mark.parametrize("args", [
    ["check", "--orders", "-1"], ["check", "--orders", "nan"], ["check", "--max-states", "nan"],
    ["check", "--max-depth", "-3"], ["check", "--crashes", "1e9"],
    ["conform", "-n", "-5"], ["conform", "--collect-timeout", "nan"],
    ["conform", "--collect-timeout", "-1"], ["conform", "--settle-timeout", "inf"],
    ["conform", "--max-steps", "1e9"],
    ["faults", "--adapter", "nats://127.0.0.1:4222", "--sagas", "-1"],
    ["faults", "--adapter", "nats://127.0.0.1:4222", "--settle-timeout", "nan"],
    ["faults", "--adapter", "nats://127.0.0.1:4222", "--decline-rate", "nan"],
    ["faults", "--adapter", "nats://127.0.0.1:4222", "--short-rate", "-0.5"],
    ["faults", "--adapter", "nats://127.0.0.1:4222", "--concurrency", "0"],
    ["faults", "--adapter", "nats://127.0.0.1:4222", "--db", "garbage://x"],
    ["serve", "--port", "-5"], ["serve", "--port", "99999"], ["serve", "--seed", "nan"],
    ["serve", "--webhook", "http://127.0.0.1@127.0.0.2/"],
    ["serve", "--webhook", "http://[::1"],
], ids=lambda a: " ".join(a[:1] + a[-2:]))
def test_bad_numbers_and_urls_are_one_line_usage_errors(args):
    code, out, err = _invoke(args)
    lines = [line for line in (out + err).splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), lines[:5]


@pytest.fixture(scope="module")
def server():
    s = SagaHTTPServer(make_target("system"), port=0, read_timeout=2.0).start()
    yield s
    s.close()


@pytest.mark.parametrize("method, path", [
    ("POST", "/events"), ("POST", "/raw"), ("POST", "/orders"), ("POST", "/world"),
    ("POST", "/subscriptions"), ("DELETE", "/subscriptions"), ("POST", "/crash/payment"),
    ("POST", "/reset"), ("POST", "/nowhere"),
])
def test_http_endpoints_answer_4xx_never_5xx(server, method, path):
    with httpx.Client(base_url=server.url, timeout=30,
                      headers={"Authorization": f"Bearer {server.token}"}) as c:
        for name, body in HOSTILE.items():
            for ctype in ("application/json", "application/cloudevents+json", "text/plain"):
                r = c.request(method, path, content=body, headers={"Content-Type": ctype})
                assert r.status_code < 500, (name, ctype, r.status_code, r.text[:300])
                if r.status_code >= 400:
                    message = r.json()["error"]
                    assert isinstance(message, str) and "\n" not in message
        binary_ce = {"ce-specversion": "1.0", "ce-id": "x", "ce-type": "OrderCreated",
                     "ce-source": "/x", "content-type": "application/json"}
        for body in HOSTILE.values():
            r = c.request(method, path, content=body, headers=binary_ce)
            assert r.status_code < 500
        assert c.get("/health").status_code == 200


@pytest.mark.parametrize("query", [
    "wait=nan", "wait=inf", "wait=-1", "wait=1e999", "wait=abc", "after=x", "after=1:nan",
    "after=99999999999999999999999:1", "after=" + "9" * 5000, "wait=0&after=-5:-5",
])
def test_published_queries_never_5xx(server, query):
    with httpx.Client(base_url=server.url, timeout=40) as c:
        t0 = time.monotonic()
        r = c.get(f"/published?{query}")
        assert r.status_code in (200, 400), (query, r.status_code, r.text[:200])
        assert time.monotonic() - t0 < 5  # no long poll on a nonsense wait


def test_huge_headers_and_bodies_do_not_hang(server):
    with httpx.Client(base_url=server.url, timeout=30,
                      headers={"Authorization": f"Bearer {server.token}"}) as c:
        r = c.post("/events", content=os.urandom(1 << 20), headers={"Content-Type": "application/json"})
        assert r.status_code == 202
        r = c.post("/events", content=b"x" * ((1 << 20) + 1))
        assert r.status_code == 413
        r = c.post("/events", content=b"{}", headers={"X-Pad": "y" * 60_000})
        assert r.status_code in (202, 400, 431)
        assert c.get("/health").status_code == 200
