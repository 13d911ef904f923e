"""Serving a saga of one's own stays cheap to start: the reference HTTP server loads no
HTTP client (httpx: the adapter's), and the reference services read the shipped order
saga's spec file and build its event models only when an order-saga event is handled,
not when imported. (`sagaspec serve --spec travel.saga.yaml` took 0.56 s of CPU until it
listened, 0.36 s without both: bench/bench_serve_any_saga.py.)"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from sagaspec.examples.httpserver import SagaHTTPServer, read_token, token_path
import sagaspec.examples, sagaspec.adapters.crash, sagaspec.conformance.spec_conform
from sagaspec.spec.sagafile import shipped_spec
before = {"httpx": "httpx" in sys.modules, "order spec read": shipped_spec.cache_info().currsize}
from sagaspec.examples.envelope import decode, outgoing
event = decode(outgoing("OrderCancelled", saga_id="s", order_id="o", reason="r"))
after = {"httpx": "httpx" in sys.modules, "order spec read": shipped_spec.cache_info().currsize}
print(json.dumps([before, after, type(event).__name__]))
"""


def test_the_reference_server_and_services_import_no_http_client_nor_the_order_saga():
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    before, after, event = json.loads(r.stdout)
    assert before == {"httpx": False, "order spec read": 0}
    # The order saga's models are still there, made on first use.
    assert after == {"httpx": False, "order spec read": 1} and event == "OrderCancelled"


def test_the_token_helpers_are_one_pair_for_the_adapter_and_the_server():
    from sagaspec.adapters import _token, http
    from sagaspec.examples import httpserver

    assert http.read_token is httpserver.read_token is _token.read_token
    assert http.token_path is httpserver.token_path is _token.token_path
