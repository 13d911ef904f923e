"""``sagaspec conform`` over a broker URL with a password: the lines meant for reading
(the header, the verdict) show it as ``***``; only ``Reproduce with:`` and the saved case
file keep the URL as given, since they must run as written."""

from __future__ import annotations

import pytest
from brokerenv import URLS, require
from click.testing import CliRunner
from mutant_cases import CASES, case_participant
from test_foreign_billing import billing, conform  # noqa: F401 - billing is a fixture

from sagaspec.cli import main

pytestmark = [pytest.mark.brokers, pytest.mark.timeout(180)]


def _secret(url: str) -> tuple[str, str]:
    """``user:password@`` as given and as masked."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    assert parts.password, f"{url} has no password to mask"
    return f"{parts.username}:{parts.password}@", f"{parts.username}:***@"


def _only_reproduce_has(secret: str, output: str) -> None:
    leaks = [line for line in output.splitlines() if secret in line and not line.startswith("Reproduce with: ")]
    assert leaks == [], leaks


def test_spec_run_masks_the_password_in_header_and_verdict(billing):  # noqa: F811
    url, exchange = billing
    secret, masked = _secret(url)
    r = conform(url, exchange, "-n", "2")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith(f"sagaspec conform: amqp://{masked}127.0.0.1:5672/?exchange={exchange} "
                               "as payment of the shop spec, "), lines[0]
    assert lines[-1] == f"PASSED: amqp://{masked}127.0.0.1:5672/?exchange={exchange} as payment of the shop spec"
    assert secret not in r.output


@pytest.mark.parametrize("billing", ["refund-in-dollars"], indirect=True)
def test_spec_run_keeps_the_password_only_in_reproduce(billing):  # noqa: F811
    url, exchange = billing
    secret, masked = _secret(url)
    r = conform(url, exchange, "-n", "20")
    assert r.exit_code == 1, r.output
    assert f"FAILED: amqp://{masked}127.0.0.1:5672/?exchange={exchange} as payment of the shop spec: " \
           "1 distinct failure" in r.output, r.output[-2000:]
    reproduce = [line for line in r.output.splitlines() if line.startswith("Reproduce with: ")]
    assert reproduce and all(secret in line for line in reproduce), reproduce
    _only_reproduce_has(secret, r.output)


def test_order_saga_run_masks_the_password_in_header_and_verdict(tmp_path):
    url = require(URLS["rabbitmq"], "AMQP_URL")
    secret, masked = _secret(url)
    case = CASES / "no-idempotency.json"
    adapter = url + ("&" if "?" in url else "?") + "spawn=1"
    r = CliRunner().invoke(main, ["conform", "--adapter", adapter, "--participant", case_participant(case),
                                  "--mutant", "no-idempotency", "--replay", str(case),
                                  "--failures-dir", str(tmp_path), "--no-coverage"])
    assert r.exit_code == 1, r.output
    shown = adapter.replace(secret, masked)
    assert f"sagaspec conform: {shown} as " in r.output, r.output[:2000]
    assert f"FAILED: {shown} as " in r.output, r.output[-2000:]
    assert "Reproduce with: " in r.output and adapter in r.output
    _only_reproduce_has(secret, "\n".join(line.strip() for line in r.output.splitlines()))
