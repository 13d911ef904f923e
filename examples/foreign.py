"""A payment service written by "another team", in its own vocabulary.

It implements the Payment participant of the corrected design, but speaks like many real
services do: dotted lower-case types (``order.created`` -> ``payment.captured`` /
``payment.declined`` / ``payment.refunded``), snake_case fields, money as JSON numbers,
Unix-millisecond timestamps, ``caused_by`` instead of ``causationId``, and no
``sagaId`` at all (it keys everything by ``order_id``). It also publishes an internal
``payment.audit`` message per decision.

It exists to show (and test) the mapping layer: with ``foreign_payment.toml`` next to this
module the conformance suite drives it unchanged::

    sagaspec conform --adapter inprocess:sagaspec.examples.foreign:make_adapter --participant payment

It is deliberately independent of :mod:`sagaspec.examples.service`: its own idempotency
check, its own validation, its own dead-letter count, on the shared Store protocol.

>>> svc = LegacyPaymentService()
>>> svc.handle({"type": "order.created", "id": "m1", "order_id": "o1", "customer_id": "c1",
...             "total": 12.5, "currency": "USD", "occurred_at": 1700000000000,
...             "lines": [{"product_id": "p", "qty": 1, "price": 12.5}]})
'ok'
>>> out = []; _ = svc.relay(out.append)
>>> [(m["type"], m["total"]) for m in out]
[('payment.captured', 12.5), ('payment.audit', 12.5)]
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sagaspec.examples.store import MemoryStore, Store

__all__ = ["LegacyPaymentService", "MAPPING_FILE", "make_adapter", "make_target"]

#: The mapping between this service's vocabulary and sagaspec's.
MAPPING_FILE = Path(__file__).with_name("foreign_payment.toml")


_COMMON = {"type", "id", "order_id", "occurred_at", "caused_by"}
_FIELDS = {
    "order.created": _COMMON | {"customer_id", "total", "currency", "lines"},
    "order.cancelled": _COMMON | {"reason"},
}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _now_ms() -> int:
    return int(time.time() * 1000)


class LegacyPaymentService:
    """Payment in the legacy team's vocabulary (see the module docstring)."""

    name = "payment"

    def __init__(self, store: Store | None = None, *, publisher: Callable[[dict], None] | None = None) -> None:
        self.store = store if store is not None else MemoryStore()
        self.publisher = publisher

    # -- their world configuration ---------------------------------------------------
    def configure(self, world: Any) -> None:
        w = world.to_json() if hasattr(world, "to_json") else dict(world)
        with self.store.transaction() as tx:
            tx.put("risk", {"blocked": sorted(w.get("declined_users") or []),
                            "limit": w.get("decline_over")})

    def restarted(self) -> LegacyPaymentService:
        return type(self)(self.store, publisher=self.publisher)

    # -- consuming -------------------------------------------------------------------
    def handle(self, message: Any) -> str:
        msg = self._parse(message)
        if isinstance(msg, str):
            self._reject(msg)
            return "rejected"
        if msg["type"] not in ("order.created", "order.cancelled"):
            return "skipped"
        with self.store.transaction() as tx:
            if tx.processed(msg["id"]):
                return "seen"
            tx.mark_processed(msg["id"], msg["order_id"])
            if msg["type"] == "order.created":
                self._on_created(tx, msg)
            else:
                self._on_cancelled(tx, msg)
        return "ok"

    def _parse(self, message: Any) -> dict[str, Any] | str:
        import json

        if isinstance(message, (bytes, bytearray)):
            try:
                message = json.loads(bytes(message).decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                return "unreadable message"
        elif isinstance(message, str):
            try:
                message = json.loads(message)
            except ValueError:
                return "unreadable message"
        if not isinstance(message, dict):
            return "message is not an object"
        for key in ("type", "id", "order_id"):
            if not isinstance(message.get(key), str) or not message[key]:
                return f"missing {key}"
        allowed = _FIELDS.get(message["type"])
        if allowed is None:
            return message  # not for us: skipped by the caller
        extra = sorted(set(message) - allowed)
        if extra:
            return f"unknown field {extra[0]}"  # the team validates strictly
        if not _is_number(message.get("occurred_at")) or not isinstance(message.get("caused_by", ""), str):
            return "bad occurred_at / caused_by"
        if message["type"] == "order.created":
            total = message.get("total")
            if not _is_number(total) or total < 0:
                return "bad total"
            if not isinstance(message.get("customer_id"), str) or not message["customer_id"]:
                return "missing customer_id"
            if not isinstance(message.get("currency", "USD"), str):
                return "bad currency"
            lines = message.get("lines")
            if not isinstance(lines, list) or not lines:
                return "no lines"
            for line in lines:
                if not (isinstance(line, dict) and set(line) == {"product_id", "qty", "price"}
                        and isinstance(line["product_id"], str) and line["product_id"]
                        and isinstance(line["qty"], int) and not isinstance(line["qty"], bool)
                        and line["qty"] >= 1 and _is_number(line["price"]) and line["price"] >= 0):
                    return "bad line"
        if message["type"] == "order.cancelled" and not isinstance(message.get("reason", ""), str):
            return "bad reason"
        return message

    def _reject(self, why: str) -> None:
        with self.store.transaction() as tx:
            tx.put("rejected:count", int(tx.get("rejected:count") or 0) + 1)
            tx.put("rejected:last", why)

    def _out(self, tx: Any, kind: str, cause: dict[str, Any], **fields: Any) -> None:
        tx.emit({"type": kind, "id": uuid.uuid4().hex, "order_id": cause["order_id"],
                 "occurred_at": _now_ms(), "caused_by": cause["id"], **fields})

    def _on_created(self, tx: Any, msg: dict[str, Any]) -> None:
        key = f"payment:{msg['order_id']}"
        state = tx.get(key) or {"captures": [], "refunds": [], "cancelled": False}
        if state["cancelled"]:
            return  # already cancelled: never capture
        risk = tx.get("risk") or {}
        total = Decimal(str(msg["total"]))
        currency = msg.get("currency", "USD")
        why = None
        if msg["customer_id"] in (risk.get("blocked") or []):
            why = "customer blocked by risk rules"
        elif risk.get("limit") is not None:
            try:
                if total > Decimal(risk["limit"]):
                    why = f"total over the risk limit {risk['limit']}"
            except InvalidOperation:
                pass
        ref = "ref" + uuid.uuid4().hex[:16]
        if why:
            self._out(tx, "payment.declined", msg, payment_ref=ref, total=float(total),
                      currency=currency, reason=why)
        else:
            state["captures"].append({"ref": ref, "total": str(total), "currency": currency})
            self._out(tx, "payment.captured", msg, payment_ref=ref, total=float(total), currency=currency)
        self._out(tx, "payment.audit", msg, decision="declined" if why else "captured", total=float(total))
        tx.put(key, state)

    def _on_cancelled(self, tx: Any, msg: dict[str, Any]) -> None:
        key = f"payment:{msg['order_id']}"
        state = tx.get(key) or {"captures": [], "refunds": [], "cancelled": False}
        state["cancelled"] = True
        refunded = {r["ref"] for r in state["refunds"]}
        for cap in state["captures"]:
            if cap["ref"] in refunded:
                continue
            state["refunds"].append(cap)
            self._out(tx, "payment.refunded", msg, payment_ref=cap["ref"],
                      total=float(Decimal(cap["total"])), currency=cap["currency"],
                      reason=("order cancelled: " + str(msg.get("reason") or "no reason"))[:500])
        tx.put(key, state)

    # -- publishing ------------------------------------------------------------------
    def relay(self, publish: Callable[[dict], None] | None = None) -> int:
        publish = publish or self.publisher
        if publish is None:
            raise RuntimeError("relay needs a publish function")
        n = 0
        while rows := self.store.pending_outbox():
            for _, message in rows:
                publish(message)
            self.store.mark_sent([i for i, _ in rows])
            n += len(rows)
        return n


def make_target(**_: Any) -> Any:
    """The legacy service as an in-process target (in its own vocabulary)."""
    from sagaspec.adapters.inprocess import ServiceTarget

    return ServiceTarget(LegacyPaymentService(), name="payment", factory=LegacyPaymentService)


def make_adapter(participant: str | None = "payment", **_: Any) -> Any:
    """The legacy service behind the in-process adapter and its mapping (ours outside)."""
    from sagaspec.adapters.inprocess import InProcessAdapter
    from sagaspec.adapters.mapping import MappedAdapter, load_mapping

    from sagaspec.errors import AdapterError

    if participant not in (None, "", "payment"):
        raise AdapterError(f"the legacy payment service plays 'payment' only, not {participant!r}")
    inner = InProcessAdapter(make_target(), label="legacy payment service")
    from sagaspec.spec.sagafile import shipped_spec

    return MappedAdapter(inner, load_mapping(MAPPING_FILE, shipped_spec("corrected")))
