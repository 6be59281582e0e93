"""Config problems as people read them: ``file:line: field: problem``, with what to write instead.

Pydantic's messages name its own types (``instance of KPIsConfig``) and patterns; these helpers turn
an error into the field path, the bad value and a hint (``2% is 0.02``, ``write [CRITICAL]``, ``did
you mean 'sessions'?``), for every config file the loader and the client loader read.
"""

from __future__ import annotations

import difflib
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from chimera.config import models as config_models
from chimera.config.yamlload import Loc, line_of
from chimera.kpi.formula import FormulaError


def suggest(value: str, choices: list[str]) -> str:
    """`` (did you mean X?)`` when a close match exists, else ``""``."""
    match = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


_BARE_FILE = re.compile(r"^(?P<file>[\w.-]+\.(?:yml|yaml|md))(?=:)")


def shown_path(path: Path) -> str:
    """``path`` as a person finds it: relative to the current folder when it lies under it (an agency
    runs from ``$CHIMERA_HOME``: ``configs/clients/acme/kpis.yml``), else under ``$CHIMERA_HOME``
    when it lies there (``$CHIMERA_HOME/configs/clients/acme/kpis.yml`` opens as typed in a shell
    and keeps the line short), else in full. From ``/``, ``tmp/x/kpis.yml`` would read as a path
    relative to somewhere else: never relative to the root."""
    from chimera import settings

    path = path.resolve()
    for base, prefix in ((Path.cwd().resolve(), ""), (settings.home(), "$CHIMERA_HOME/")):
        if base.parent != base and path.is_relative_to(base):
            return prefix + str(path.relative_to(base))
    return str(path)


def in_folder(problems: list[str], folder: Path) -> list[str]:
    """``problems`` with each bare file name the loaders start them with (``kpis.yml:21: ...``, as
    they report the files of the one folder they load) replaced by that file's path in ``folder``.
    Read among hundreds of clients, or from a command that named only the client, ``kpis.yml``
    does not say whose file; ``configs/clients/acme/kpis.yml:21`` does."""
    def whose(match: re.Match[str]) -> str:
        file = match["file"]
        return shown_path(folder / file) if (folder / file).is_file() else file

    return [_BARE_FILE.sub(whose, problem, count=1) for problem in problems]


def field_path(loc: Loc) -> str:
    return ".".join(str(p) for p in loc) or "(top)"


_TRIGGER_KEYS = ["all", "any", "not", "kpi", "status", "below", "above", "change_pct_below",
                 "change_pct_above", "anomaly", "over"]


_TRIGGER_HINTS = {
    "play": " (a trigger reads KPIs: name the KPIs the other play's trigger reads)",
    "and": " (write all: [...])", "or": " (write any: [...])",
}


def _is_tag(part: Any) -> bool:
    """Union tags pydantic inserts into error locations (``StatusCondition``), not user keys."""
    return isinstance(part, str) and isinstance(getattr(config_models, part, None), type) and issubclass(
        getattr(config_models, part), BaseModel)


def _first_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if (found := _first_model(arg)) is not None:
            return found
    return None


def _model_fields(model: type[BaseModel], raw_loc: Loc) -> list[str]:
    """Allowed field names at a raw pydantic location, to suggest the right spelling of an extra key."""
    current: type[BaseModel] | None = model
    for part in raw_loc[:-1]:
        if isinstance(part, int):
            continue
        if _is_tag(part):
            current = getattr(config_models, str(part))
            continue
        info = current.model_fields.get(str(part)) if current else None
        if info is None:
            return []
        current = _first_model(info.annotation)
    return list(current.model_fields) if current else []


_TYPE_NAMES = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}


def _not_a_mapping(model: type[BaseModel], value: Any, loc: Loc) -> str:
    """``expected a mapping with kpis: at the top, got a list`` instead of pydantic's class names."""
    got = _TYPE_NAMES.get(type(value), "nothing" if value is None else type(value).__name__)
    if loc:
        return f"expected a mapping (key: value lines), got {got}"
    return f"expected a mapping with {required_keys(model)} at the top, got {got}"


def required_keys(model: type[BaseModel]) -> str:
    """``kpis:`` (the keys a file of ``model`` must have), for messages about a file without them."""
    return ", ".join(f"{name}:" for name, info in model.model_fields.items() if info.is_required())


def _percent_hint(loc: Loc, value: Any) -> str:
    """``2%`` where a number is expected: what to write instead."""
    if not (isinstance(value, str) and value.strip().endswith("%")):
        return ""
    try:
        number = Decimal(value.strip()[:-1].strip())
    except ArithmeticError:
        return ""
    if str(loc[-1]).startswith("change_pct"):
        return f"; {loc[-1]} is already in percent: write {number.normalize():f}"
    return f"; write percent as a fraction: {value.strip()} is {(number / 100).normalize():f}"


def _message(model: type[BaseModel], err: Any, loc: Loc) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    kind, value = err["type"], err.get("input")
    if isinstance((err.get("ctx") or {}).get("error"), FormulaError):
        return err["ctx"]["error"].problem  # says where in the formula; the formula is on that line
    if kind in ("model_type", "model_attributes_type", "dict_type") and not isinstance(value, dict):
        return _not_a_mapping(model, value, loc)
    if kind == "decimal_parsing" and (hint := _percent_hint(loc, value)):
        return f"{msg} (got {value!r}){hint}"
    if kind == "extra_forbidden":
        if str(loc[-1]) in ("all", "any", "not") and any(p in ("AllOf", "AnyOf", "NotOf") for p in err["loc"]):
            return "unknown field: a trigger mapping holds one of all / any / not: nest one inside the other"
        if str(loc[-1]) == "over" and any(str(p).endswith("Condition") for p in err["loc"]):
            return ("unknown field: over is the window of a change_pct_below / change_pct_above condition; a "
                    "status, below, above or anomaly test reads the KPI over its own window (kpis.yml)")
        if str(loc[-1]) in _TRIGGER_KEYS and any(str(p).endswith("Condition") for p in err["loc"]):
            return (f"unknown field: a condition makes one test, so {loc[-1]!r} goes in a condition of its own "
                    "(put both under all: [...] to require both)")
        return "unknown field" + suggest(str(loc[-1]), _model_fields(model, err["loc"]))
    if kind == "invalid_trigger" and isinstance(value, dict):
        unknown = [k for k in value if k not in _TRIGGER_KEYS]
        hints = "; ".join(f"unknown key {k!r}{_TRIGGER_HINTS.get(str(k)) or suggest(str(k), _TRIGGER_KEYS)}"
                          for k in unknown)
        return f"{msg}; {hints}" if hints else msg
    if kind not in ("missing", "model_type") and "input" in err and not isinstance(value, dict):
        return f"{msg} (got {value!r}){_shape_hint(err, value)}"
    return msg


_PATTERN_HINTS = {
    config_models.ID_RE: "ids are lower-case ASCII letters, digits and '_', starting with a letter (like net_sales)",
    config_models.WINDOW_RE: "a window is a whole number of days, like 7d, 14d or 28d",
    config_models.JOB_TYPE_RE: "job types are upper-case, like EXECUTE_PLAY_COMMERCE",
}


def _shape_hint(err: Any, value: Any) -> str:
    """How to write a value pydantic refused for its shape: a pattern it missed, one item for a list."""
    if err["type"] == "string_pattern_mismatch" and (hint := _PATTERN_HINTS.get((err.get("ctx") or {}).get("pattern"))):
        return f": {hint}"
    if err["type"] == "list_type" and isinstance(value, str | int | float):
        return f"; write [{value}] for a list of one"
    if err["type"] == "string_type" and err["loc"][-1] in ("window", "over") and isinstance(value, int):
        return f"; write {value}d"
    return ""


def _misspelt(model: type[BaseModel], errors: list[Any]) -> dict[int, str]:
    """``{index of an unknown-field error: the required field it misspells}``: ``warnign: 4000``
    is one mistake on its own line, not also a "warning: Field required" on the mapping's first line."""
    missing = {(tuple(e["loc"][:-1]), str(e["loc"][-1])) for e in errors if e["type"] == "missing" and e["loc"]}
    found: dict[int, str] = {}
    for i, err in enumerate(errors):
        if err["type"] != "extra_forbidden" or not err["loc"]:
            continue
        parent, key = tuple(err["loc"][:-1]), str(err["loc"][-1])
        wanted = [name for (at, name) in missing if at == parent]
        match = difflib.get_close_matches(key, wanted, n=1, cutoff=0.6)
        if match and match[0] not in found.values() and match[0] in _model_fields(model, err["loc"]):
            found[i] = match[0]
    return found


def problems_of(model: type[BaseModel], exc: ValidationError, lines: dict[Loc, int], label: str) -> list[str]:
    """``label:LINE: field.path: message`` for each problem pydantic found in a YAML file."""
    errors = exc.errors()
    misspelt = _misspelt(model, errors)
    folded = {(tuple(errors[i]["loc"][:-1]), name) for i, name in misspelt.items()}
    problems = []
    for i, err in enumerate(errors):
        if err["type"] == "missing" and err["loc"] and (tuple(err["loc"][:-1]), str(err["loc"][-1])) in folded:
            continue
        loc = tuple(p for p in err["loc"] if not _is_tag(p))
        msg = (f"unknown field (did you mean {misspelt[i]!r}? it is required)" if i in misspelt
               else _message(model, err, loc))
        problems.append(f"{label}:{line_of(lines, loc)}: {field_path(loc)}: {msg}")
    return problems
