"""JSON Schema export of the config models, for editors (``# yaml-language-server: $schema=...``).

The schema files are generated from the pydantic models, never written by hand, so an editor's
hints can't drift from what the loader accepts; a test compares the committed files with a fresh export.
The models carry their fields' bounds (``NUMBER_SCHEMA``, ``WINDOW_SCHEMA``); the loader's bound on the
step parameters ``chimera play scale`` multiplies is added here (``_scaled_params``), and each number's
long pattern is written once, as ``$defs.Number``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from chimera import settings
from chimera.config.client import ClientConfig
from chimera.config.models import (
    DECIMAL_TEXT_RE,
    MAX_DIGITS,
    NUMBER_SCHEMA,
    TOO_LARGE,
    AgentsConfig,
    KPIsConfig,
    PlayPolicy,
    PlaysConfig,
)

SCHEMAS: dict[str, type[BaseModel]] = {
    "agents": AgentsConfig,
    "kpis": KPIsConfig,
    "plays": PlaysConfig,
    "client": ClientConfig,
}
TITLES = {
    "agents": "Chimera agents.yml: commanders and execution bots (manual §3)",
    "kpis": "Chimera kpis.yml: KPI definitions, targets and thresholds (manual §5.1)",
    "plays": "Chimera plays.yml: plays, data-only triggers and job plans (manual §5.2)",
    "client": "Chimera client.yml: a client's data sources and connectors (manual §10)",
}


def default_dir() -> Path:
    return settings.BASE_CONFIG_DIR / "schema"


NUMBER_REF = {"$ref": "#/$defs/Number"}
SCALED_REF = {"$ref": "#/$defs/ScaledParam"}
SCALED_PARAM: dict[str, Any] = {
    "description": f"A step parameter chimera play scale multiplies: as a number or its text, {TOO_LARGE}.",
    "exclusiveMinimum": -(10**MAX_DIGITS), "exclusiveMaximum": 10**MAX_DIGITS,
    "if": {"type": "string", "pattern": DECIMAL_TEXT_RE},
    "then": NUMBER_REF,
}
"""The loader's bound on such a parameter (``loader._Checker.scaled_params``): a number, or text that reads
as one, stays below 1e15; other text (``top_sellers_by_units_90d``), lists and booleans are not numbers."""


def schema_for(name: str) -> dict:
    """The JSON Schema (draft 2020-12) of one config file kind: agents, kpis, plays or client."""
    schema = _shared_numbers(SCHEMAS[name].model_json_schema(mode="validation"))
    if name == "plays":
        schema = _scaled_params(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{name}.schema.json",
        **schema,
        "title": TITLES[name],
    }


def _shared_numbers(schema: dict) -> dict:
    """``schema`` with each ``Number`` (``NUMBER_SCHEMA``'s branches, beside ``null`` when optional) a
    reference to one ``$defs.Number``: its pattern is long, and a file would carry it once per field."""
    branches = NUMBER_SCHEMA["anyOf"]

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        if all(b in node.get("anyOf", []) for b in branches):
            rest = [b for b in node["anyOf"] if b not in branches]
            node = {k: v for k, v in node.items() if k != "anyOf"} | (
                {"anyOf": [NUMBER_REF, *rest]} if rest else NUMBER_REF)
        return {k: walk(v) for k, v in node.items()}

    out = walk(schema)
    if out != schema:
        out["$defs"] = dict(sorted((out.get("$defs", {}) | {"Number": NUMBER_SCHEMA}).items()))
    return out


def _scaled_params(schema: dict) -> dict:
    """The plays schema with the loader's bound on the step parameters a scale multiplies: every ``max_*``
    cap, and each of the default ``scale_params`` wherever the policy keeps it (or gives no list). A name
    the policy adds, or one with a ``max_<name>`` cap beside it, is bounded by the loader only: a schema
    cannot read a key's name from another value."""
    defs = schema["$defs"]
    params = defs["JobStep"]["properties"]["params"]
    params["patternProperties"] = {"^max_": SCALED_REF}
    names = PlayPolicy.model_fields["scale_params"].default
    params["dependentSchemas"] = {f"max_{n}": {"properties": {n: SCALED_REF}} for n in names}
    schema["allOf"] = [{
        "if": {"properties": {"policy": {"properties": {"scale_params": {"contains": {"const": n}}}}}},
        "then": {"properties": {"plays": {"items": {"properties": {"job_plan": {"items": {"properties": {
            "params": {"properties": {n: SCALED_REF}}}}}}}}}},
    } for n in names]
    schema["$defs"] = dict(sorted((defs | {"Number": NUMBER_SCHEMA, "ScaledParam": SCALED_PARAM}).items()))
    return schema


def render(name: str) -> str:
    """The exact text written to ``<name>.schema.json`` (stable key order, trailing newline)."""
    return json.dumps(schema_for(name), indent=2, ensure_ascii=False) + "\n"


def write_schemas(out_dir: Path | None = None) -> list[Path]:
    """Write every schema file into ``out_dir`` (default: configs/schema); returns the paths."""
    out = Path(out_dir or default_dir())
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in SCHEMAS:
        path = out / f"{name}.schema.json"
        path.write_text(render(name), encoding="utf-8")
        paths.append(path)
    return paths


def stale_schemas(out_dir: Path | None = None) -> list[str]:
    """Schema files that are missing or differ from a fresh export (run ``chimera config schema``)."""
    out = Path(out_dir or default_dir())
    return [
        f"{out / f'{name}.schema.json'}: out of date (chimera config schema)"
        for name in SCHEMAS
        if not (out / f"{name}.schema.json").exists()
        or (out / f"{name}.schema.json").read_text(encoding="utf-8") != render(name)
    ]
