"""The reference system under the nemesis: every saga ends, nothing lost, nothing doubled.

Each case starts its own broker (``nats-server -js`` or ``redis-server`` on a free
loopback port), runs the fault runner's workload (declined payments, short stock) and
injects one fault while the sagas run; recovery needs no operator. The verdict is the
fault runner's: every saga terminal, 0 lost, every property of the spec held on the bus.
``bench/nemesis.py`` runs the same at
larger sizes and prints the table (also with the SQLite lock, whose retry path
test_transient_store_failures checks here).
"""

from __future__ import annotations

import pytest

from sagaspec.cli._nemesis import run_nemesis

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(240)]


@pytest.mark.parametrize("broker, fault", [
    ("nats", "broker-pause"),
    ("nats", "broker-restart"),
    ("redis", "broker-pause"),
    ("redis", "broker-restart"),
    ("nats", "db-terminate"),
    ("redis", "poison"),
])
def test_recovers_without_an_operator(broker, fault, tmp_path, request):
    pg_url = request.getfixturevalue("pg_url") if fault == "db-terminate" else None
    # Shorter outages than bench/nemesis.py's (6 s pause, 3 s down), the same paths: a 3 s
    # pause outlasts the clients' 2 s request timeout (they time out and reconnect), and a
    # killed broker drops every connection at once, whatever the gap before its restart.
    report = run_nemesis(fault, broker, workdir=tmp_path, sagas=16, faults=1, seed=7,
                         pg_url=pg_url, settle_timeout=60, pause=3.0, down=1.0)
    assert report.ok, "\n".join(report.lines())
    assert report.placed == report.terminal == 16 and report.lost == 0
    assert report.properties and not any(report.properties.values())  # the spec's, on the bus
    assert report.kills_by_service == {fault: 1}  # the fault was injected
    if fault == "db-terminate":  # every service's own session, and no one else's
        assert "(4 PostgreSQL sessions terminated)" in report.notes[-1]
    if fault == "poison":  # each consumer of OrderCreated dead-lettered every one
        assert report.notes[:2] == ["payment dead-lettered 7 of 7 poison messages",
                                    "inventory dead-lettered 7 of 7 poison messages"]
