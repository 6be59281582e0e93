"""`chimera demo` as a new user runs it: a fresh folder, no key, a full weekly cycle and a report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_a_full_weekly_cycle_offline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHIMERA_", "OPENAI_"))}
    result = subprocess.run([sys.executable, "-m", "chimera.cli", "demo"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for section in ("KPI statuses for demo", "Awaiting your decision", "Decisions", "demo policy",
                    "Executed (dry run", "Evidence (before/after, no control group)", "Explore further"):
        assert section in out, section
    assert "offline narrative (no model configured)" in out
    assert "pricing_test on aov" in out
    assert "approved" in out and "overrode" in out
    home = tmp_path / ".chimera-demo"
    assert (home / "report.html").exists()
    assert list((home / "outbox" / "demo").glob("*.md")), "bots wrote their assets to the outbox"
    again = subprocess.run([sys.executable, "-m", "chimera.cli", "demo"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
