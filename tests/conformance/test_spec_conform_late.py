"""What a service publishes after its case's last handling is judged with that case.

A service that answers a redelivered event late (after the model said nothing more could
come, so the suite stopped waiting) must fail the case whose duplicate caused it, with
the message a prompt answer would have got, never pass it and fail a later case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sagaspec.conformance.spec_conform import InProcessSpecAdapter, run_case
from sagaspec.spec.sagafile import load_spec

SHOP = Path(__file__).resolve().parents[2] / "examples" / "sagas" / "shop.saga.yaml"


class LateRefunds(InProcessSpecAdapter):
    """The reference services, but payment refunds once more on a redelivered
    ShippingFailed, and that refund comes only after the case (from ``late()``)."""

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.refunds: dict[str, dict[str, Any]] = {}
        self.held: list[dict[str, Any]] = []
        self.again = 0
        self.redelivered, self.saga = False, None

    def reset(self) -> None:
        super().reset()
        self.refunds.clear()
        self.held.clear()

    def start(self, participant: str, saga_id: str) -> None:
        self.redelivered = False
        super().start(participant, saga_id)

    def deliver(self, participant: str, event: dict[str, Any], invalid: bool = False) -> bool:
        saga = event.get("sagaId")
        self.redelivered = (participant == "payment" and event.get("eventType") == "ShippingFailed"
                            and saga in self.refunds)
        self.saga = saga
        return super().deliver(participant, event, invalid)

    def collect(self, done):
        got = super().collect(done)
        for e in got:
            if e.get("eventType") == "PaymentRefunded":
                self.refunds[e["sagaId"]] = e
        if self.redelivered:  # the reference published nothing; this one refunds again, late
            self.again += 1
            self.held.append(dict(self.refunds[self.saga], eventId=f"again-{self.again}"))
        return got

    def late(self) -> list[dict[str, Any]]:
        out, self.held = self.held, []
        return out


def test_a_late_answer_to_a_duplicate_fails_its_own_case():
    spec = load_spec(str(SHOP))
    adapter = LateRefunds(spec)
    caught = []
    for seed in range(200):
        r = run_case(spec, adapter, seed, sagas=1)
        if adapter.again:
            caught.append(r)
            break
    assert caught, "no case redelivered a ShippingFailed to payment after its refund"
    r = caught[0]
    assert r.failures and r.failures[0].check == "model", r.failures
    message = r.failures[0].message
    assert message.startswith("payment published PaymentRefunded") and "again on a redelivered ShippingFailed" in message
    assert r.log[-1].startswith("after the case: payment published, late, on ShippingFailed"), r.log[-3:]
