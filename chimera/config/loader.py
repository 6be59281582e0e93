"""Load a config set (agents, kpis, plays) from a folder and check it across files.

Every problem is reported as ``file:line: field: problem (did you mean ...?)``; all problems in a
set are collected before raising, so one run shows everything to fix.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chimera import settings
from chimera.config.models import AgentsConfig, KPIsConfig, PlaysConfig, trigger_kpis
from chimera.config.yamlload import Loc, line_of, load_yaml
from chimera.errors import ConfigError

FILES = {"agents": "agents.yml", "kpis": "kpis.yml", "plays": "plays.yml"}
M = TypeVar("M", bound=BaseModel)


def suggest(value: str, choices: list[str]) -> str:
    """`` (did you mean X?)`` when a close match exists, else ``""``."""
    match = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _field_path(loc: Loc) -> str:
    return ".".join(str(p) for p in loc) or "(top)"


def _model_fields(model: type[BaseModel], loc: Loc) -> list[str]:
    """Allowed field names at a location, to suggest the right spelling of an extra key."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        info = getattr(current, "model_fields", {}).get(part)
        if info is None:
            return []
        ann = info.annotation
        args = getattr(ann, "__args__", ())
        current = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return list(getattr(current, "model_fields", {}).keys()) if current else []


def _validate(model: type[M], path: Path) -> tuple[M | None, dict[Loc, int], list[str]]:
    data, lines = load_yaml(path)
    try:
        return model.model_validate(data), lines, []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p[0].isupper()))
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown field" + suggest(str(loc[-1]), _model_fields(model, loc))
            elif "input" in err and err["type"] not in ("missing",) and not isinstance(err["input"], dict):
                msg = f"{msg} (got {err['input']!r})"
            problems.append(f"{path.name}:{line_of(lines, loc)}: {_field_path(loc)}: {msg}")
        return None, lines, problems


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
        raise ConfigError(f"plays.yml: no play {play_id!r}{suggest(play_id, [p.id for p in self.plays.plays])}")

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


def cross_check(cs: ConfigSet, libraries_dir: Path) -> list[str]:
    """Problems that only show when the files are read together."""
    problems: list[str] = []
    la, lk, lp = cs.lines.get("agents", {}), cs.lines.get("kpis", {}), cs.lines.get("plays", {})
    kpi_ids = [k.id for k in cs.kpis.kpis]
    commander_ids = [c.id for c in cs.agents.commanders]
    handled = {t for c in cs.agents.commanders for t in c.handles}
    bots = {b.id: b for b in cs.agents.bots}

    def add(fname: str, lines: dict[Loc, int], loc: Loc, msg: str) -> None:
        problems.append(f"{fname}:{line_of(lines, loc)}: {_field_path(loc)}: {msg}")

    for i in _dupes(commander_ids + [b.id for b in cs.agents.bots]):
        is_bot = i >= len(commander_ids)
        loc: Loc = ("bots", i - len(commander_ids), "id") if is_bot else ("commanders", i, "id")
        add("agents.yml", la, loc, f"duplicate id {(commander_ids + list(bots))[i]!r}")
    for i in _dupes(kpi_ids):
        add("kpis.yml", lk, ("kpis", i, "id"), f"duplicate id {kpi_ids[i]!r}")
    play_ids = [p.id for p in cs.plays.plays]
    for i in _dupes(play_ids):
        add("plays.yml", lp, ("plays", i, "id"), f"duplicate id {play_ids[i]!r}")
    for ci, c in enumerate(cs.agents.commanders):
        for li, lib in enumerate(c.libraries):
            if not (libraries_dir / lib).is_dir():
                existing = sorted(p.name for p in libraries_dir.iterdir() if p.is_dir()) if libraries_dir.is_dir() else []
                add("agents.yml", la, ("commanders", ci, "libraries", li),
                    f"library folder {lib!r} does not exist under {libraries_dir}{suggest(lib, existing)}")
    for ki, k in enumerate(cs.kpis.kpis):
        if k.owner not in commander_ids:
            add("kpis.yml", lk, ("kpis", ki, "owner"), f"unknown commander {k.owner!r}{suggest(k.owner, commander_ids)}")
    for pi, p in enumerate(cs.plays.plays):
        if p.owner not in commander_ids:
            add("plays.yml", lp, ("plays", pi, "owner"), f"unknown commander {p.owner!r}{suggest(p.owner, commander_ids)}")
        for kpi in trigger_kpis(p.trigger):
            if kpi not in kpi_ids:
                add("plays.yml", lp, ("plays", pi, "trigger"), f"unknown KPI {kpi!r}{suggest(kpi, kpi_ids)}")
        for field_name, values in (("kpis", p.kpis), ("evidence", p.evidence.kpis)):
            for vi, kpi in enumerate(values):
                if kpi not in kpi_ids:
                    loc = ("plays", pi, field_name, vi) if field_name == "kpis" else ("plays", pi, "evidence", "kpis", vi)
                    add("plays.yml", lp, loc, f"unknown KPI {kpi!r}{suggest(kpi, kpi_ids)}")
        for si, step in enumerate(p.job_plan):
            base: Loc = ("plays", pi, "job_plan", si)
            if step.type not in handled:
                add("plays.yml", lp, (*base, "type"),
                    f"no agent handles job type {step.type!r}{suggest(step.type, sorted(handled))}")
            bot = bots.get(step.bot)
            if bot is None:
                add("plays.yml", lp, (*base, "bot"), f"unknown bot {step.bot!r}{suggest(step.bot, list(bots))}")
            elif step.action not in (names := [a.name for a in bot.actions]):
                add("plays.yml", lp, (*base, "action"),
                    f"bot {bot.id!r} has no action {step.action!r}{suggest(step.action, names)}")
    for ai, pid in enumerate(cs.plays.policy.auto_approve):
        if pid not in play_ids:
            add("plays.yml", lp, ("policy", "auto_approve", ai), f"unknown play {pid!r}{suggest(pid, play_ids)}")
    return problems


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
