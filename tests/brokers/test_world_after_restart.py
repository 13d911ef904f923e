"""A reference service restarted as a process keeps the world the suite set up.

The interpreter holds the world's knob values and data (declined users, an amount limit)
in memory; the runner stores them with the setup and configures a restarted process
with them again. Before, a payment process killed and restarted approved a declined
user's charge (``conform --participant payment`` over a broker failed payment-rules on
the reference services after a crash).
"""

from __future__ import annotations

import pytest
from brokerenv import namespace
from sagaspec.adapters.base import World
from sagaspec.adapters.broker import BrokerAdapter
from sagaspec.examples.samples import sample_created


@pytest.mark.timeout(120)
def test_a_restarted_payment_still_declines_the_declined_user(broker, run):
    adapter = BrokerAdapter(broker, participant="payment", spawn="1", namespace=namespace("wr"))
    run(adapter.start())
    try:
        run(adapter.setup(World(declined_users=frozenset({"mallory"}))))
        adapter.cluster.kill("payment")
        adapter.cluster.start("payment")
        run(adapter.wait_ready(("payment",), timeout=60))
        created = sample_created(1, user="mallory", prefix=namespace("o"))
        run(adapter.deliver(created))
        got = run(adapter.collect(30.0))
        assert [e.get("eventType") for e in got] == ["PaymentFailed"], got
    finally:
        run(adapter.close())
