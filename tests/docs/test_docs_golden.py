"""The committed docs/ folder is exactly what `sagaspec docs` generates today.

Regenerate after an intended change with:

    sagaspec docs --design corrected --out docs
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sagaspec.cli.docs import _differences
from sagaspec.docs.site import MANIFEST, REGENERATE_COMMAND

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(300)


def test_committed_docs_match_the_generator(corrected_site):
    site, _folder = corrected_site
    problems = _differences(site.rendered(), REPO / "docs")
    assert not problems, (
        f"docs/ is out of date ({len(problems)} files); if the change is intended, "
        f"regenerate with: {REGENERATE_COMMAND}\n" + "\n".join(problems[:20])
    )
    listed = (REPO / "docs" / MANIFEST).read_text().split()
    assert listed == sorted(site.rendered())


def test_the_comparison_notices_a_changed_file(corrected_site, tmp_path):
    site, folder = corrected_site
    (tmp_path / "docs").mkdir()
    files = site.rendered()
    for rel, text in files.items():
        target = tmp_path / "docs" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    assert _differences(files, tmp_path / "docs") == []
    (tmp_path / "docs" / "flows.md").write_text("edited by hand\n")
    (tmp_path / "docs" / "events" / "OrderCreated.html").unlink()
    problems = _differences(files, tmp_path / "docs")
    assert any(p.startswith("differs: flows.md") for p in problems)
    assert "missing: events/OrderCreated.html" in problems
