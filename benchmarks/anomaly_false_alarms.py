"""Benchmark: how often the anomaly rule raises on quiet stores, and whether it holds a lasting drop.

Seeded stores from the project's generator (``chimera.demo.generator``, ~60 orders a day, weekly
pattern, 212 days), every configured 7-day KPI with ``anomaly: true``, judged day by day:
  - quiet: no event; the share of (store, KPI, day) whose confirmed anomaly level is WARNING or
    CRITICAL over the last 22 weeks (every raise is a false alarm);
  - lasting drop: conversion -45 % from day 190 to the end (22 days); the share of days from the
    first raise on whose level is back to OK while the drop persists (DATA.md: a baseline that keeps
    flagged windows lets the alert fade back to OK while the problem persists).
"before" and "after" are two versions of ``chimera/kpi/anomaly.py`` loaded side by side, each a git
revision or a file: "before" defaults to the rule of a6a073a, "after" to this tree's, so a candidate
rule is measured by saving it to a file and passing ``--after PATH``.
Run: python benchmarks/anomaly_false_alarms.py [--stores N] [--before REV|PATH] [--after REV|PATH]
(about 4 s of one core per store and rule at the current rule's cost)
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.evidence_calibration import DAYS, START, _store
from chimera.config.loader import load_config_set
from chimera.demo import generator
from chimera.kpi.window import KPIWindows

ROOT = Path(__file__).resolve().parent.parent
MODULE = "chimera/kpi/anomaly.py"
BEFORE = "a6a073afebe7f8659cddaca2a5adb1e8b84ae7f9"  # the rule QA3 measured
QUIET_FROM = DAYS - 7 * 22
DROP_DAY = 190
LEVELS = ("OK", "WARNING", "CRITICAL")


def load(source: str) -> ModuleType:
    """``anomaly.py`` from a file path, or from a git revision of this repository."""
    path = Path(source)
    if not path.is_file():
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{source}:{MODULE}"], check=True,
                              capture_output=True, text=True).stdout
        path = Path(tempfile.mkdtemp(prefix="anomaly-")) / "anomaly.py"
        path.write_text(text)
    name = f"anomaly_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def levels(module: ModuleType, spec, series: dict, first: int) -> list[int]:
    """The confirmed anomaly level of each day from ``first`` to the last (0 without a score)."""
    windows = KPIWindows(spec, series)
    return [module.confirmed(windows, START + timedelta(days=i))[1] for i in range(first, DAYS)]


def main(stores: int, before: str, after: str) -> None:
    t0 = time.perf_counter()
    modules = {"before": load(before), "after": load(after)}
    specs = [k for k in load_config_set().kpis.kpis if k.anomaly and k.window == "7d"]
    weekly = generator.WeeklySeasonality()
    raised = {key: {s.id: [0, 0, 0] for s in specs} for key in modules}  # warning, critical, days
    faded = {key: {s.id: [0, 0] for s in specs} for key in modules}  # OK after first raise, days after it
    drop = generator.ConversionDrop(day=DROP_DAY, relative_change=-0.45)
    for seed in range(stores):
        quiet = _store(4000 + seed, generator.DemoEvents(weekly=weekly))
        dropped = _store(5000 + seed, generator.DemoEvents(weekly=weekly, conversion_drop=drop))
        for key, module in modules.items():
            for spec in specs:
                tally = raised[key][spec.id]
                for level in levels(module, spec, quiet, QUIET_FROM):
                    tally[0] += level == 1
                    tally[1] += level == 2
                    tally[2] += 1
                during = levels(module, spec, dropped, DROP_DAY)
                first = next((i for i, level in enumerate(during) if level), None)
                if first is not None:
                    faded[key][spec.id][0] += sum(level == 0 for level in during[first:])
                    faded[key][spec.id][1] += len(during) - first
    print(f"anomaly false alarms: {stores} quiet stores x {len(specs)} KPIs x {DAYS - QUIET_FROM} days; "
          f"{stores} stores with conversion -45 % for the last {DAYS - DROP_DAY} days "
          f"(before = {before}, after = {after}; {time.perf_counter() - t0:.0f} s)")
    print(f"{'kpi':22} {'quiet: WARNING+ (CRITICAL)':>36}   {'drop: OK after first raise':>38}")
    print(f"{'':22} {'before':>17} {'after':>18}   {'before':>18} {'after':>19}")
    totals = {key: [0, 0, 0, 0, 0] for key in modules}
    for spec in specs:
        cells = []
        for key in modules:
            w, c, n = raised[key][spec.id]
            cells.append(f"{100 * (w + c) / n:6.2f} % ({100 * c / n:5.2f} %)")
            totals[key][:3] = [a + b for a, b in zip(totals[key][:3], (w, c, n), strict=True)]
        for key in modules:
            ok, after = faded[key][spec.id]
            cells.append(f"{ok:4d} / {after:4d} days" + (f" {100 * ok / after:5.1f} %" if after else "        "))
            totals[key][3:] = [totals[key][3] + ok, totals[key][4] + after]
        print(f"{spec.id:22} {cells[0]:>17} {cells[1]:>18}   {cells[2]:>18} {cells[3]:>19}")
    cells = [f"{100 * (t[0] + t[1]) / t[2]:6.2f} % ({100 * t[1] / t[2]:5.2f} %)" for t in totals.values()]
    cells += [f"{t[3]:4d} / {t[4]:4d} days {100 * t[3] / max(t[4], 1):5.1f} %" for t in totals.values()]
    print(f"{'all':22} {cells[0]:>17} {cells[1]:>18}   {cells[2]:>18} {cells[3]:>19}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--before", default=BEFORE, help="git revision or path of the 'before' anomaly.py")
    parser.add_argument("--after", default=str(ROOT / MODULE), help="the same for 'after' (default: this tree's)")
    args = parser.parse_args()
    main(args.stores, args.before, args.after)
