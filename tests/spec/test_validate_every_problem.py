"""`sagaspec validate` reports every problem of one event in one pass: the envelope's
missing fields (eventId, schemaVersion, sagaId) together with the payload's."""

from __future__ import annotations

from click.testing import CliRunner

from sagaspec.cli import main


def test_envelope_and_payload_problems_come_in_one_run(tmp_path):
    path = tmp_path / "ev.json"
    path.write_text('{"eventType":"OrderCreated","amount":100.0}\n')
    r = CliRunner().invoke(main, ["validate", "-q", str(path)])
    assert r.exit_code == 1, r.output
    lines = r.stdout.splitlines()
    assert all(line.startswith(f"{path}:1:1: /") for line in lines), lines
    pointers = [line.split(": ")[1] for line in lines]
    assert pointers == ["/eventId", "/schemaVersion", "/sagaId", "/timestamp", "/orderId",
                        "/userId", "/amount", "/items"], lines
    assert "Traceback" not in r.output
