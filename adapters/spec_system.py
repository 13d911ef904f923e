"""A whole foreign system behind a broker and a REST API, driven from outside: ``--participant system``.

A system we did not write runs its saga by itself: the suite cannot hand events to its
participants one by one. It can start sagas the way its users do, set its world up,
watch what it publishes and read what it only shows as state. The mapping file's
``[system]`` table says how (values are CEL, as in the spec)::

    [system]
    url = "http://127.0.0.1:8181"          # their REST API (the adapter URL's http= overrides it)
    [system.trigger]                        # how a saga starts
    method = "POST"
    path = "/orders"
    body = { total = "double(amount)" }     # CEL over the trigger event's fields and world.KNOB
    id = "order_number"                     # response field: their id for the saga
    # or, a message on their broker: publish = "orders.requested" (their routing key),
    # body = { ref = "sagaId", ... }, id = "ref" (the body field that names the saga)
    [system.trigger.steer]                  # trigger fields that make a world value happen
    "payment.decline" = { amount = "'250.00'" }
    [system.rules]                          # their fixed rules: the world a saga really has
    payment = "double(amount) > 200.0 ? 'decline' : 'approve'"
    [[system.setup]]                        # before each case; CEL over the spec's parameters
    method = "PUT"
    path = "/stock/W1"
    body = { available = "stock" }
    [system.state]                          # outcomes that are only state over HTTP
    path = "/orders/{order_number}"
    field = "status"
    types = { completed = "order.completed" }   # state value -> their type under [events]
    [system.health]                         # probed after each case
    path = "/health"                        # a 2xx answer; and/or
    probe = true                            # one plain saga, started and judged

The rules decide the world the oracle judges with, from what was actually sent, so a
service that declines what its rule approves fails exactly there.
"""

from __future__ import annotations

import asyncio
import json
import re
import string
import time
import uuid
from collections import deque
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from sagaspec.adapters.base import RawMessage
from sagaspec.adapters.mapping import Mapping
from sagaspec.adapters.spec_broker import _REMEMBER, SpecBrokerAdapter, _late_wait

from sagaspec.errors import AdapterError, UsageError

__all__ = ["SystemAdapter", "SystemConfig"]

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_CEL_TYPES = {"string": "string", "integer": "int", "boolean": "bool"}


class SystemConfig:
    """The ``[system]`` table of a mapping, checked against the spec (errors name file:line)."""

    def __init__(self, mapping: Mapping, spec: Any) -> None:
        from sagaspec.spec._cel import CelEnv

        self.mapping, self.spec = mapping, spec
        table = mapping.config.get("system")
        if not isinstance(table, dict):
            raise self._err("system", "expected a [system] table (how to drive the whole system)")
        self._keys(table, "system", {"url", "trigger", "rules", "setup", "state", "health"}, {"url", "trigger"})
        self.url = self._str(table, "url", "system").rstrip("/")
        trigger_event = next((e for e in spec.events if e.role == "trigger"), None)
        if trigger_event is None:
            raise self._err("system", f"{spec.name} has no trigger event to start a saga with")
        self.trigger_type = trigger_event.name
        fields = {f.name: _CEL_TYPES.get(mapping_type(spec, f.schema), "") for f in trigger_event.fields}
        names = {k: v for k, v in fields.items() if v}
        knobs = {f"world.{k}": "string" for k in spec.world} | {"sagaId": "string"}
        event_env, param_env = CelEnv({**names, **knobs}), CelEnv({p.name: "int" for p in spec.params})
        self.field_env = CelEnv(names)

        t = table["trigger"]
        t = self._table(t, "system.trigger")
        #: Their routing key for a trigger published on their broker (else an HTTP request).
        self.publish: str | None = None
        if "publish" in t:
            self._keys(t, "system.trigger", {"publish", "body", "id", "steer"}, {"publish", "body", "id"})
            self.publish = self._str(t, "publish", "system.trigger")
            self.trigger = ("", "", self._request({"method": "POST", "path": "-", "body": t["body"]},
                                                  "system.trigger", event_env)[2])
        else:
            self._keys(t, "system.trigger", {"method", "path", "body", "id", "steer", "publish"},
                       {"method", "path", "id"})
            self.trigger = self._request(t, "system.trigger", event_env)
        self.id_field = self._str(t, "id", "system.trigger")
        if self.publish is not None and self.id_field not in (self.trigger[2] or {}):
            raise self._err("system.trigger.id", f"{self.id_field!r} is not a field of the body published; "
                                                 "name the one that carries the saga's id (body: FIELD = \"sagaId\")")
        self.steer: dict[tuple[str, str], dict[str, Any]] = {}
        for key, exprs in self._table(t.get("steer", {}), "system.trigger.steer").items():
            knob, _, value = key.partition(".")
            if knob not in spec.world or value not in spec.world[knob]:
                raise self._err(f"system.trigger.steer.{key}", "expected KNOB.VALUE of the spec's world ("
                                   + ", ".join(f"{k}.{v}" for k, vs in spec.world.items() for v in vs) + ")")
            exprs = self._table(exprs, f"system.trigger.steer.{key}")
            for name in exprs:
                if name not in fields:
                    raise self._err(f"system.trigger.steer.{key}.{name}", f"no field {name!r} in "
                                       f"{self.trigger_type}; expected one of {', '.join(fields)}")
            self.steer[(knob, value)] = {n: self._cel(self.field_env, e, f"system.trigger.steer.{key}.{n}")
                                         for n, e in exprs.items()}
        self.rules = {}
        for knob, text in self._table(table.get("rules", {}), "system.rules").items():
            if knob not in spec.world:
                raise self._err(f"system.rules.{knob}", f"no world knob {knob!r} in {spec.name}; expected one "
                                   f"of {', '.join(spec.world) or 'none'}")
            self.rules[knob] = self._cel(self.field_env, text, f"system.rules.{knob}", "string")
        for knob in spec.world:
            if knob not in self.rules:  # else the oracle would judge by a value they never saw
                raise self._err("system.rules", f"no rule for the world knob {knob!r}: say how their system "
                                f"decides it from the trigger's fields ({', '.join(spec.world[knob])})")
        setup = table.get("setup", [])
        if not isinstance(setup, list):
            raise self._err("system.setup", "expected [[system.setup]] tables (one request each)")
        self.setup = []
        for item in setup:
            self._keys(self._table(item, "system.setup"), "system.setup", {"method", "path", "body"},
                       {"method", "path"})
            self.setup.append(self._request(item, "system.setup", param_env))
        self.state = None
        if "state" in table:
            s = self._table(table["state"], "system.state")
            self._keys(s, "system.state", {"path", "field", "types"}, {"path", "field", "types"})
            types = self._table(s["types"], "system.state.types")
            for value, theirs in types.items():
                if theirs not in mapping.by_theirs:
                    raise self._err(f"system.state.types.{value}", f"{theirs!r} is not a type of theirs "
                                       "mapped under [events]")
            self.state = (self._str(s, "path", "system.state"), self._str(s, "field", "system.state"), dict(types))
            known = {self.id_field, *(n for pair in mapping._correlate for n in pair)}
            for _, name, _, _ in string.Formatter().parse(self.state[0]):
                if name is not None and name not in known:
                    raise self._err("system.state.path", f"no value for {{{name}}}; a placeholder names the "
                                    f"trigger's id or a correlate field ({', '.join(sorted(known))})")
        self.health = None
        #: After each case, also start one plain saga and judge it (a probe through the system).
        self.probe = False
        if "health" in table:
            h = self._table(table["health"], "system.health")
            self._keys(h, "system.health", {"path", "probe"}, set())
            if "path" in h:
                self.health = self._str(h, "path", "system.health")
            self.probe = h.get("probe", False)
            if not isinstance(self.probe, bool):
                raise self._err("system.health.probe", "expected true or false")
            if self.health is None and not self.probe:
                raise self._err("system.health", "expected path = their health URL's path, or probe = true")

    # -- checks -------------------------------------------------------------------------
    def _err(self, where: str, what: str) -> Exception:
        from sagaspec.errors import InputError

        line = self._line(where)
        at = f"{self.mapping.origin}:{line}" if line else self.mapping.origin
        return InputError(f"{at}: {where}: {what}")

    def _line(self, where: str) -> int | None:
        """The line ``where`` (``system.trigger.body.total``) is written on: its table's
        header, then each further key (quoted or bare) on or after it."""
        lines = [ln.split("#", 1)[0].strip() if not ln.strip().startswith("#") else ""
                 for ln in (self.mapping._text or "").splitlines()]
        tokens = where.split(".")
        at, i = None, 0
        for j in range(len(tokens), 0, -1):
            head = ".".join(tokens[:j])
            found = next((n for n, ln in enumerate(lines) if ln in (f"[{head}]", f"[[{head}]]")), None)
            if found is not None:
                at, i = found, j
                break
        if at is None:
            return None
        while i < len(tokens):
            for j in range(len(tokens), i, -1):
                seg = ".".join(tokens[i:j])
                pattern = rf'"{re.escape(seg)}"\s*=' + (rf"|(^|[\s{{,]){re.escape(seg)}\s*=" if j == i + 1 else "")
                found = next((n for n in range(at, len(lines)) if re.search(pattern, lines[n])), None)
                if found is not None:
                    at, i = found, j
                    break
            else:
                i += 1
        return at + 1

    def _table(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self._err(where, "expected a table")
        return value

    def _keys(self, table: dict[str, Any], where: str, known: set[str], required: set[str]) -> None:
        for key in table:
            if key not in known:
                raise self._err(f"{where}.{key}", f"unknown key; expected {', '.join(sorted(known))}")
        for key in sorted(required - set(table)):
            raise self._err(where, f"missing {key!r}")

    def _str(self, table: dict[str, Any], key: str, where: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value:
            raise self._err(f"{where}.{key}", "expected a non-empty string")
        return value

    def _cel(self, env: Any, text: Any, where: str, want: str | None = None) -> Any:
        from sagaspec.errors import SpecError

        if not isinstance(text, str):
            raise self._err(where, "expected a CEL expression (a string; quote a constant: \"'x'\")")
        try:
            return env.compile(text, lambda _offset: where, want)
        except SpecError as exc:
            raise self._err(where, str(exc).split(": ", 1)[-1]) from None

    def _request(self, table: dict[str, Any], where: str, env: Any) -> tuple[str, str, dict[str, Any] | None]:
        method = self._str(table, "method", where).upper()
        if method not in _METHODS:
            raise self._err(f"{where}.method", f"expected one of {', '.join(_METHODS)}")
        path = self._str(table, "path", where)
        body = None
        if "body" in table:
            body = {k: self._cel(env, v, f"{where}.body.{k}")
                    for k, v in self._table(table["body"], f"{where}.body").items()}
        return method, path, body

    # -- evaluation ---------------------------------------------------------------------
    def steered(self, fields: dict[str, Any], world: dict[str, str]) -> dict[str, Any]:
        """The trigger fields, with what makes each chosen world value happen."""
        out = dict(fields)
        for knob, value in world.items():
            for name, expr in self.steer.get((knob, value), {}).items():
                out[name] = expr.cel(fields)
        return out

    def world_of(self, fields: dict[str, Any]) -> dict[str, str]:
        """The world their rules give a saga started with ``fields``."""
        out = {}
        for knob, expr in self.rules.items():
            value = expr.cel(fields)
            if value not in self.spec.world[knob]:
                raise AdapterError(f"{self.mapping.origin}: system.rules.{knob} gave {value!r}; expected one of "
                                   f"{', '.join(self.spec.world[knob])}")
            out[knob] = value
        return out


def mapping_type(spec: Any, schema: Any) -> str:
    from sagaspec.adapters.mapping import _resolve

    kind = _resolve(spec, schema).get("type")
    return kind if isinstance(kind, str) else ""


class SystemAdapter(SpecBrokerAdapter):
    """``amqp://...&http=http://HOST:PORT`` + a mapping with ``[system]`` -> the whole system.

    ``black_box``: the suite starts sagas and watches (see
    :func:`sagaspec.conformance.spec_system.run_system_case`); it delivers nothing.
    """

    name = "system"
    black_box = True

    def __init__(self, url: str, spec: Any, *, mapping: Mapping, timeout: float = 3.0) -> None:
        from sagaspec.adapters.broker import BrokerAdapter, BrokerConfig
        from sagaspec.adapters.mapping import Correlation

        self.system = SystemConfig(mapping, spec)
        broker_url, http = _split_url(url)
        broker_url, self.late_wait = _late_wait(broker_url)
        self.base = (http or self.system.url).rstrip("/")
        if not self.base.startswith(("http://", "https://")):
            raise UsageError(f"http={self.base!r}: expected http://HOST:PORT of their REST API")
        self.spec, self.participant, self.local, self.mapping, self.wait = spec, "system", None, mapping, "model"
        self.params = {k: v for k, v in spec.resolve_params(spec.default_sagas).items() if k != "sagas"}
        self.terminal = frozenset(e.name for e in spec.events if e.terminal)
        config = BrokerConfig.from_url(broker_url)
        config.control = "off"  # their system has no control channel of ours
        settle = config.settle  # read before the broker adapter puts its own default in
        self.broker = BrokerAdapter(config, participant="system")
        self.timeout = max(float(timeout), config.timeout)
        self.settle = settle if settle is not None else 0.05
        self.broker.config.settle = self.settle
        self.state = Correlation()
        self.tag = uuid.uuid4().hex[:6]
        # Each case's tag is remembered and their ids stay learnt (bounded): a message
        # that comes after its case still finds it (see orphans()).
        self._tags, self._orphans, self._answers = {self.tag}, [], deque(maxlen=256)
        self._ended: dict[str, float] = {}
        self.world = {}
        self.ids: dict[str, str] = {}
        self._sent: dict[str, list[tuple[str, str, bytes, dict[str, str]]]] = {}
        self._buffer = []
        self._last = None
        self._loop = asyncio.new_event_loop()
        self._arrived = None
        self.broker.record = False
        self.broker.listeners.append(self._on_item)
        self.broker.decoder = self._decode
        self._http = httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0), follow_redirects=False)
        try:
            self._run(self._start())
            self._wait_for_api()
        except BaseException:
            self.close()
            raise

    def _wait_for_api(self) -> None:
        """Wait (at most :data:`STARTUP_WAIT` s) for their API to accept connections."""
        from sagaspec.adapters.spec_broker import STARTUP_WAIT

        deadline = time.monotonic() + STARTUP_WAIT
        while True:
            try:
                self._http.get(self.base + (self.system.health or "/"))
                return
            except httpx.TransportError as exc:
                if time.monotonic() >= deadline:
                    raise AdapterError(f"their API at {self.base} does not answer: {exc}") from None
            time.sleep(0.1)

    # -- HTTP ---------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: dict[str, Any] | None, what: str) -> httpx.Response:
        try:
            reply = self._http.request(method, self.base + path, json=body)
        except httpx.HTTPError as exc:
            raise AdapterError(f"{what}: {method} {self.base}{path} failed: {exc}") from None
        if reply.status_code >= 300:
            raise AdapterError(f"{what}: {method} {self.base}{path} answered {reply.status_code}: "
                               f"{reply.text[:200]}")
        return reply

    @staticmethod
    def _eval(body: dict[str, Any] | None, data: dict[str, Any]) -> dict[str, Any] | None:
        return None if body is None else {k: expr.cel(data) for k, expr in body.items()}

    # -- the suite's calls ----------------------------------------------------------------
    def reset(self) -> None:
        """Let an earlier case's stragglers arrive (set aside for :meth:`orphans`, with
        the case they belong to); set their world up."""
        self._ended.setdefault(self.tag, time.monotonic())
        self._drain()
        self.tag = uuid.uuid4().hex[:6]  # a case run again meets none of its earlier ids
        self._tags.add(self.tag)
        if len(self.state.sagas) + len(self.state.derived) > _REMEMBER:
            self.state.clear()
            self._tags = {self.tag}
            self._ended.clear()
        self._take()  # an earlier case's events go to orphans(); no case's are dropped
        self._buffer.clear()
        self.ids.clear()
        self._sent.clear()
        for method, path, body in self.system.setup:
            self._call(method, path, self._eval(body, self.params), "system.setup")

    def prepare(self, fields: dict[str, Any], wanted: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        """The trigger fields steered toward ``wanted``, and the world their rules give them."""
        steered = self.system.steered(fields, wanted)
        return steered, {**wanted, **self.system.world_of(steered)}

    def trigger(self, saga: str, fields: dict[str, Any], world: dict[str, str]) -> str:
        """Start ``saga`` their way; their id for it (learnt for correlation)."""
        method, path, body = self.system.trigger
        data = {**fields, **{f"world.{k}": v for k, v in world.items()}, "sagaId": f"{saga}.{self.tag}"}
        sent = self._eval(body, data)
        if self.system.publish is not None:
            assert sent is not None
            their = sent[self.system.id_field]
            # Learnt before it goes out: their answer may come back before publish returns.
            self.state.sagas[(self.system.id_field, str(their))] = self._wire(saga)
            self._run(self.broker.publish_as(self.system.publish, json.dumps(sent).encode(), {}))
            return str(their)
        reply = self._call(method, path, sent, "system.trigger")
        try:
            their = reply.json()[self.system.id_field]
        except (ValueError, KeyError, TypeError):
            raise AdapterError(f"system.trigger: {method} {self.base}{path} answered no "
                               f"{self.system.id_field!r}: {reply.text[:200]}") from None
        self.ids[saga] = str(their)
        self.state.sagas[(self.system.id_field, str(their))] = self._wire(saga)
        return str(their)

    def _decode(self, received: Any) -> Any:
        if self.system.publish is not None and received.route == self.system.publish:
            return RawMessage(bytes(received.body), received.route, "ignored")  # our own trigger
        out = super()._decode(received)
        if isinstance(out, dict) and isinstance(out.get("sagaId"), str):
            # As they published it, for a duplicate delivery (see redeliver).
            self._sent.setdefault(out["sagaId"], []).append(
                (str(out.get("eventType")), received.route, bytes(received.body), dict(received.headers or {})))
        return out

    # -- faults on their broker ------------------------------------------------------------
    def redeliver(self, saga: str, rng: Any) -> str | None:
        """Publish one message the system published for ``saga`` again, exactly as it was
        (route, body, headers): a duplicate delivery. What it was, or None."""
        sent = [m for m in self._sent.get(self._wire(saga), []) if self._consumed(m[0])]
        if not sent:
            return None
        event, route, body, headers = rng.choice(sent)
        self._run(self.broker.publish_as(route, body, headers))
        return f"{event} ({route})"

    def _consumed(self, event: str) -> bool:
        return any(event in p.subscribes for p in self.spec.participants)

    def publish_invalid(self, rng: Any) -> str | None:
        """Publish a message no service can read on one of the routes the system uses;
        the route, or None before it published anything."""
        routes = sorted({m[1] for sent in self._sent.values() for m in sent if self._consumed(m[0])})
        if not routes:
            return None
        route = rng.choice(routes)
        body = rng.choice([b"\xff not JSON", b"{}", b"[]", b'{"' + b"x" * 64 + b'": null}'])
        self._run(self.broker.publish_as(route, body, {}))
        return route

    def stragglers(self) -> list[Any]:
        """What arrives within the settle time from now (after the last fault of a case)."""

        async def wait() -> list[Any]:
            await asyncio.sleep(max(self.settle, 0.2) if self.late_wait is None else self.late_wait)
            return self._take()

        got = [self._unwire(dict(i)) for i in self._run(wait()) if isinstance(i, dict)]
        self._ended[self.tag] = time.monotonic()
        return got

    def observe(self, saga: str) -> list[Any]:
        """What the system published (and showed as state) until ``saga`` ended and the
        broker is quiet, or the timeout; translated."""
        return [self._unwire(dict(i)) if isinstance(i, dict) else {"eventType": f"<unreadable {i.source}: {i.reason}>"}
                for i in self._run(self._observe(saga)) if not (not isinstance(i, dict) and i.reason == "ignored")]

    async def _observe(self, saga: str) -> list[Any]:
        deadline = time.monotonic() + self.timeout
        ended_at = None
        shown: list[Any] = []  # state read over HTTP: the result of what the broker carries,
        # which may reach our observer later than the state changed, so it goes last
        while time.monotonic() < deadline:
            if self.broker.transport.failure is not None:
                raise AdapterError(f"{self.broker.config.display}: lost the broker: {self.broker.transport.failure}")
            if ended_at is None:
                polled = self._poll(saga)
                if polled is not None:
                    shown.append(polled)
                if any(isinstance(e, dict) and e.get("sagaId") == self._wire(saga) and e.get("eventType") in self.terminal
                       for e in (*self._buffer, *shown)):
                    ended_at = time.monotonic()
            elif time.monotonic() - ended_at >= self.settle:
                break
            await asyncio.sleep(0.02)
        return self._take() + shown

    def _poll(self, saga: str) -> dict[str, Any] | None:
        if self.system.state is None:
            return None
        path, field, types = self.system.state
        values = {name: value for (name, value), found in self.state.sagas.items() if found == self._wire(saga)}
        try:
            url = path.format_map(values)
        except KeyError:
            return None  # their id is not known yet (learnt from what they publish)
        reply = self._call("GET", url, None, "system.state")
        try:
            shown = reply.json()
        except ValueError:
            return None
        if not isinstance(shown, dict) or shown.get(field) not in types:
            return None
        theirs = types[shown[field]]
        message = {k: v for k, v in shown.items() if k != field}
        rules = self.mapping.by_theirs[theirs]
        if self.mapping.type_from == "body":
            message[self.mapping.type_field] = theirs
        out = self.mapping.translate(message, state=self.state, route=rules.route,
                                     headers={self.mapping.type_field: theirs})
        return out if isinstance(out, dict) else None

    @property
    def probe(self) -> bool:
        return self.system.probe

    def health(self) -> str | None:
        """Why the system is not healthy now (``[system.health]``), or None."""
        if self.system.health is None:
            return None
        try:
            reply = self._http.get(self.base + self.system.health)
        except httpx.HTTPError as exc:
            return f"GET {self.base}{self.system.health} failed: {exc}"
        if reply.status_code >= 300:
            return f"GET {self.base}{self.system.health} answered {reply.status_code}: {reply.text[:200]}"
        return None

    # Delivering to one participant has no meaning for a system that runs by itself.
    def deliver(self, participant: str, event: dict[str, Any], invalid: bool = False) -> bool:
        raise UsageError("a foreign system runs its sagas by itself: the suite starts and watches them")

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._http.close()


def _split_url(url: str, key: str = "http") -> tuple[str, str | None]:
    """The broker URL without the query parameter ``key``, and its value."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    value = next((v for k, v in query if k == key), None)
    rest = urlencode([(k, v) for k, v in query if k != key])
    return urlunsplit(parts._replace(query=rest)), value
