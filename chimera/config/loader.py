"""Load a config set (agents, kpis, plays) from a folder and check it across files.

Every problem is reported as ``file:line: field: problem (did you mean ...?)``; all problems in a
set are collected before raising, so one run shows everything to fix.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chimera import settings
from chimera.config import models as config_models
from chimera.config.messages import field_path, problems_of, required_keys, suggest
from chimera.config.models import AgentsConfig, AllOf, AnyOf, KPIsConfig, NotOf, PlaysConfig, trigger_kpis
from chimera.config.yamlload import Loc, line_of, load_yaml
from chimera.errors import ConfigError
from chimera.kpi.formula import FormulaError, parse_formula
from chimera.kpi.window import REPEAT
from chimera.sop.library import discover, library_names

FILES = {"agents": "agents.yml", "kpis": "kpis.yml", "plays": "plays.yml"}
CYCLE_JOB_TYPES = ("INGEST_METRICS", "EVALUATE_KPIS", "LOG_EVIDENCE", "TRAIN_AGENT", "SUGGEST_PLAYS")
"""The job types every weekly cycle queues itself (graphs.service, agents.jobs): each needs a commander.
PLAN_JOB_QUEUE_FOR_PLAY is not among them: without a commander for it, the play's owner plans it."""
M = TypeVar("M", bound=BaseModel)


def _validate(model: type[M], path: Path) -> tuple[M | None, dict[Loc, int], list[str]]:
    try:
        data, lines = load_yaml(path)
    except ConfigError as exc:
        return None, {}, exc.problems
    if not lines:  # nothing but comments and blank lines
        return None, lines, [f"{path.name}:1: (top): the file is empty (expected {required_keys(model)})"]
    try:
        return model.model_validate(data), lines, []
    except ValidationError as exc:
        return None, lines, problems_of(model, exc, lines, path.name)


@dataclass
class ConfigSet:
    """A validated set of the three config files of one client (or the base set)."""

    folder: Path
    agents: AgentsConfig
    kpis: KPIsConfig
    plays: PlaysConfig
    lines: dict[str, dict[Loc, int]] = field(default_factory=dict)

    def kpi(self, kpi_id: str):
        return next(k for k in self.kpis.kpis if k.id == kpi_id)

    def play(self, play_id: str):
        for p in self.plays.plays:
            if p.id == play_id:
                return p
        ids = [p.id for p in self.plays.plays]
        raise ConfigError(f"plays.yml: no play {play_id!r}{suggest(play_id, ids)}")

    def bot(self, bot_id: str):
        return next(b for b in self.agents.bots if b.id == bot_id)

    def owners_of(self, job_type: str) -> list[str]:
        """Commanders whose ``handles`` list holds ``job_type``, in file order."""
        return [c.id for c in self.agents.commanders if job_type in c.handles]


def _dupes(ids: list[str]) -> list[int]:
    seen: set[str] = set()
    out = []
    for i, value in enumerate(ids):
        if value in seen:
            out.append(i)
        seen.add(value)
    return out


def _trigger_leaves(trigger: Any, loc: Loc) -> list[tuple[Loc, Any]]:
    """Every condition of a trigger with its location (for the line number)."""
    if isinstance(trigger, AllOf | AnyOf):
        key = "all" if isinstance(trigger, AllOf) else "any"
        return [x for i, t in enumerate(getattr(trigger, key)) for x in _trigger_leaves(t, (*loc, key, i))]
    if isinstance(trigger, NotOf):
        return _trigger_leaves(trigger.not_, (*loc, "not"))
    return [(loc, trigger)]


def _trigger_kpi_locs(trigger: Any, loc: Loc) -> list[tuple[Loc, str]]:
    """Every KPI id a trigger reads with the location of its ``kpi`` key (for the line number)."""
    return [((*at, "kpi"), kpi) for at, leaf in _trigger_leaves(trigger, loc) for kpi in trigger_kpis(leaf)]


class _Checker:
    """Cross-file checks; each problem is ``file:line: field: problem (did you mean ...?)``."""

    def __init__(self, cs: ConfigSet, libraries_dir: Path) -> None:
        self.cs, self.libraries_dir = cs, libraries_dir
        self.problems: list[str] = []
        self.kpi_ids = [k.id for k in cs.kpis.kpis]
        self.commander_ids = [c.id for c in cs.agents.commanders]
        self.handled = sorted({t for c in cs.agents.commanders for t in c.handles})
        self.bots = {b.id: b for b in reversed(cs.agents.bots)}  # the first definition counts
        self.play_ids = [p.id for p in cs.plays.plays]
        self.sop_files: list[str] | None = None  # read once, when the first SOP is checked

    def add(self, key: str, loc: Loc, msg: str) -> None:
        line = line_of(self.cs.lines.get(key, {}), loc)
        self.problems.append(f"{FILES[key]}:{line}: {field_path(loc)}: {msg}")

    def known(self, key: str, loc: Loc, what: str, value: str, choices: list[str]) -> None:
        if value not in choices:
            self.add(key, loc, f"unknown {what} {value!r}{suggest(value, choices)}{self.other_kind(what, value)}")

    def other_kind(self, what: str, value: str) -> str:
        """`` ('x' is a play: a trigger reads KPIs)`` when the id names the other kind of thing."""
        if what == "KPI" and value in self.play_ids:
            return f" ({value!r} is a play: a trigger reads KPIs)"
        if what == "play" and value in self.kpi_ids:
            return f" ({value!r} is a KPI, not a play)"
        return ""

    def library(self, key: str, loc: Loc, lib: str) -> bool:
        """The library is a folder in any root SOP search reads (the project's, then $CHIMERA_HOME's)."""
        if lib in library_names(self.libraries_dir):
            return True
        folder = self.libraries_dir
        existing = library_names(folder)
        self.add(key, loc, f"library folder {lib!r} does not exist under {folder}{suggest(lib, existing)}")
        return False

    def sop(self, loc: Loc, sop: str) -> None:
        """A play cites an SOP file that exists: a typo would be cited in every explanation unread.

        A library folder that exists but holds no SOP yet is no exception: the cited file is missing."""
        if "/" not in sop or not sop.endswith(".md"):
            self.add("plays", loc, f"SOP {sop!r} must be library/file.md")
            return
        lib = sop.split("/", 1)[0]
        if not self.library("plays", loc, lib):
            return
        if self.sop_files is None:
            self.sop_files = sorted(discover(self.libraries_dir))
        if sop in self.sop_files:
            return
        in_lib = [f for f in self.sop_files if f.startswith(f"{lib}/")]
        if not in_lib:
            self.add("plays", loc, f"SOP {sop!r} not found: library {lib!r} holds no SOP yet; "
                                   f"add it with chimera sop add FILE --library {lib}")
            return
        self.add("plays", loc, f"SOP {sop!r} not found in library {lib!r}{suggest(sop, in_lib)}; "
                               f"its SOPs: chimera sop list --library {lib}")

    def duplicates(self) -> None:
        agent_ids = self.commander_ids + [b.id for b in self.cs.agents.bots]
        n = len(self.commander_ids)
        for i in _dupes(agent_ids):
            loc: Loc = ("bots", i - n, "id") if i >= n else ("commanders", i, "id")
            self.add("agents", loc, f"duplicate id {agent_ids[i]!r}")
        for i in _dupes(self.kpi_ids):
            self.add("kpis", ("kpis", i, "id"), f"duplicate id {self.kpi_ids[i]!r}")
        for i in _dupes(self.play_ids):
            self.add("plays", ("plays", i, "id"), f"duplicate id {self.play_ids[i]!r}")

    def agents(self) -> None:
        for ci, c in enumerate(self.cs.agents.commanders):
            for li, lib in enumerate(c.libraries):
                self.library("agents", ("commanders", ci, "libraries", li), lib)
        self.cycle_types()
        for bi, b in enumerate(self.cs.agents.bots):
            names = [a.name for a in b.actions]
            for ai in _dupes(names):
                self.add("agents", ("bots", bi, "actions", ai, "name"), f"duplicate action {names[ai]!r}")

    def cycle_types(self) -> None:
        """Every job type the weekly cycle queues by itself has a commander: without one the cycle stopped
        at that job with a traceback. A handled type one letter off (``INGEST_METRIC``) is named at its line."""
        for missing in (t for t in CYCLE_JOB_TYPES if t not in self.handled):
            near = [(ci, hi, t) for ci, c in enumerate(self.cs.agents.commanders) for hi, t in enumerate(c.handles)
                    if t not in CYCLE_JOB_TYPES and suggest(t, [missing])]
            why = f"no commander handles {missing!r}, which every weekly cycle runs"
            if near:
                ci, hi, typo = near[0]
                self.add("agents", ("commanders", ci, "handles", hi), f"{why}: {typo!r} here is no job type the "
                                                                      f"cycle runs (did you mean {missing!r}?)")
            else:
                self.add("agents", ("commanders",), f"{why}; add it to one commander's handles")

    def formula(self, ki: int, formula: str) -> None:
        """Parse the formula as the evaluator will; every name must be a base metric an ingest writes."""
        from chimera.ingest.models import BASE_METRICS  # heavy (polars): only when configs load

        loc: Loc = ("kpis", ki, "formula")
        if formula.strip() == REPEAT:
            return
        try:
            names = parse_formula(formula).metrics
        except FormulaError as exc:
            self.add("kpis", loc, exc.problem)
            return
        for name in names:
            if name == REPEAT:
                self.add("kpis", loc, f"{REPEAT!r} must be the whole formula (it counts customers, not a metric)")
            else:
                self.known("kpis", loc, "metric", name, sorted(BASE_METRICS))

    def percent_bound(self, loc: Loc, leaf: Any) -> None:
        """``{kpi: conversion_rate, below: 2}`` reads 200 %: a bound on a percent KPI written in percent
        points (ten times or more its fraction thresholds, and above 1) never means what it says."""
        field = "below" if hasattr(leaf, "below") else "above" if hasattr(leaf, "above") else None
        if field is None or leaf.kpi not in self.kpi_ids:
            return
        kpi, bound = self.cs.kpi(leaf.kpi), getattr(leaf, field)
        scale = max(abs(kpi.target), abs(kpi.warning), abs(kpi.critical))
        if kpi.unit == "percent" and abs(bound) > 1 and scale <= 1 and abs(bound) >= 10 * scale:
            self.add("plays", (*loc, field), f"{field} {bound} on percent KPI {kpi.id!r} reads {bound * 100}%; its "
                     f"thresholds are fractions (target {kpi.target}): write {(bound / 100).normalize():f} for "
                     f"{bound}%")

    def percent_points(self, ki: int, k: Any) -> None:
        """``x / y * 100`` with ``unit: percent`` would show 2.5 % as 250 %: percent KPIs are fractions."""
        if k.unit != "percent" or k.formula.strip() == REPEAT:
            return
        ratio = parse_formula(k.formula).ratio
        if ratio is not None and ratio.scale.copy_abs() == 100:
            self.add("kpis", ("kpis", ki, "formula"), "unit: percent KPIs are fractions (0.025 is 2.5%): drop the "
                     "'100' factor, or keep it with unit: ratio and thresholds in percent points")

    def kpis(self) -> None:
        for ki, k in enumerate(self.cs.kpis.kpis):
            self.formula(ki, k.formula)
            self.percent_points(ki, k)
            self.known("kpis", ("kpis", ki, "owner"), "commander", k.owner, self.commander_ids)
            for di, driver in enumerate(k.drivers):
                if driver == k.id:
                    self.add("kpis", ("kpis", ki, "drivers", di), f"KPI {k.id!r} cannot drive itself")
                else:
                    self.known("kpis", ("kpis", ki, "drivers", di), "KPI", driver, self.kpi_ids)
            higher = k.direction == "higher_is_better"
            for name, threshold in (("warning", k.warning), ("critical", k.critical)):
                recovery = getattr(k, f"{name}_recovery")
                if recovery is not None and (recovery < threshold if higher else recovery > threshold):
                    self.add("kpis", ("kpis", ki, f"{name}_recovery"),
                             f"{name}_recovery {recovery} must be {'>=' if higher else '<='} {name} "
                             f"{threshold} for {k.direction}")

    def plays(self) -> None:
        for pi, p in enumerate(self.cs.plays.plays):
            self.known("plays", ("plays", pi, "owner"), "commander", p.owner, self.commander_ids)
            for tloc, kpi in _trigger_kpi_locs(p.trigger, ("plays", pi, "trigger")):
                self.known("plays", tloc, "KPI", kpi, self.kpi_ids)
            for tloc, leaf in _trigger_leaves(p.trigger, ("plays", pi, "trigger")):
                self.percent_bound(tloc, leaf)
            for vi, kpi in enumerate(p.kpis):
                self.known("plays", ("plays", pi, "kpis", vi), "KPI", kpi, self.kpi_ids)
            for vi, kpi in enumerate(p.evidence.kpis):
                self.known("plays", ("plays", pi, "evidence", "kpis", vi), "KPI", kpi, self.kpi_ids)
            for si, step in enumerate(p.job_plan):
                self.step(("plays", pi, "job_plan", si), step)
                self.scaled_params(("plays", pi, "job_plan", si, "params"), step.params)
            for si, sop in enumerate(p.sops):
                self.sop(("plays", pi, "sops", si), sop)
        for ai, pid in enumerate(self.cs.plays.policy.auto_approve):
            self.known("plays", ("policy", "auto_approve", ai), "play", pid, self.play_ids)

    def scaled_params(self, base: Loc, params: dict[str, Any]) -> None:
        """A param ``chimera play scale`` multiplies (``scale_params``, a capped one, a cap) stays below 1e15:
        1e30 is a typo, and Decimal arithmetic at 28 digits cannot grow it."""
        grows = set(self.cs.plays.policy.scale_params)
        for key, value in params.items():
            if not (key in grows or f"max_{key}" in params or key.startswith("max_")) or isinstance(value, bool):
                continue
            try:
                amount = Decimal(str(value).strip()) if isinstance(value, int | float | str) else None
            except ArithmeticError:
                continue  # text such as top_sellers_by_units_90d
            if amount is not None and amount.is_finite() and amount.copy_abs() >= config_models.MAX_NUMBER:
                self.add("plays", (*base, key), f"{value!r} is too large (numbers here stay below 1e15 in "
                                                 "absolute value)")

    def type_hint(self, job_type: str) -> str:
        """`` (did you mean ...?)`` naming a handled type; when that type is used by no play and no cycle
        step, the typo is more likely in agents.yml's handles, and the hint says so."""
        used = {s.type for p in self.cs.plays.plays for s in p.job_plan} | set(CYCLE_JOB_TYPES)
        unused = [t for t in self.handled if t not in used]
        near = difflib.get_close_matches(job_type, unused, n=1, cutoff=0.6)
        if near:
            return (f"; agents.yml handles {near[0]!r}, which no play uses: a typo there? "
                    f"(write {job_type} in that commander's handles)")
        return suggest(job_type, self.handled)

    def step(self, base: Loc, step: Any) -> None:
        if step.type not in self.handled:
            self.add("plays", (*base, "type"), f"no agent handles job type {step.type!r}{self.type_hint(step.type)}")
        bot = self.bots.get(step.bot)
        if bot is None:
            self.known("plays", (*base, "bot"), "bot", step.bot, list(self.bots))
        elif step.action not in (names := [a.name for a in bot.actions]):
            self.add("plays", (*base, "action"),
                     f"bot {bot.id!r} has no action {step.action!r}{suggest(step.action, names)}")


def cross_check(cs: ConfigSet, libraries_dir: Path) -> list[str]:
    """Problems that only show when the files are read together."""
    checker = _Checker(cs, libraries_dir)
    checker.duplicates()
    checker.agents()
    checker.kpis()
    checker.plays()
    return checker.problems


def load_config_set(folder: Path | None = None, libraries_dir: Path | None = None) -> ConfigSet:
    """Load and check the three files in ``folder`` (default: the base configs); raise on any problem."""
    folder = Path(folder or settings.BASE_CONFIG_DIR)
    problems: list[str] = []
    parsed: dict[str, Any] = {}
    lines: dict[str, dict[Loc, int]] = {}
    for key, model in (("agents", AgentsConfig), ("kpis", KPIsConfig), ("plays", PlaysConfig)):
        obj, file_lines, errs = _validate(model, folder / FILES[key])
        parsed[key], lines[key] = obj, file_lines
        problems += errs
    if problems:
        raise ConfigError(problems)
    cs = ConfigSet(folder=folder, lines=lines, **parsed)
    problems = cross_check(cs, Path(libraries_dir or settings.LIBRARIES_DIR))
    if problems:
        raise ConfigError(problems)
    return cs
