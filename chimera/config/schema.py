"""JSON Schema export of the config models, for editors (``# yaml-language-server: $schema=...``).

The schema files are generated from the pydantic models, never written by hand, so an editor's
hints can't drift from what the loader accepts; a test compares the committed files with a fresh export.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from chimera import settings
from chimera.config.client import ClientConfig
from chimera.config.models import AgentsConfig, KPIsConfig, PlaysConfig

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


def schema_for(name: str) -> dict:
    """The JSON Schema (draft 2020-12) of one config file kind: agents, kpis, plays or client."""
    schema = SCHEMAS[name].model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{name}.schema.json",
        **schema,
        "title": TITLES[name],
    }


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
