"""``chimera config check|schema|log``: the config surfaces of manual §5 and their changelog rule."""

from __future__ import annotations

from datetime import date as Date
from pathlib import Path

import typer

from chimera import settings
from chimera.cli.app import config_app, emit_json, err, out
from chimera.config.changelog import check_changelog, log_change
from chimera.config.client import ClientConfig
from chimera.config.loader import ConfigSet, _validate, load_config_set, suggest
from chimera.config.schema import stale_schemas, write_schemas
from chimera.errors import ClientError, ConfigError

_CLIENT_HELP = "Client name: check its own config set (configs/clients/NAME/) instead of the base set."


def _folder(client: str | None) -> Path:
    """The base config folder, or the client's (refused with a suggestion when it does not exist)."""
    if client is None:
        return settings.BASE_CONFIG_DIR
    folder = settings.client_dir(client)
    if not folder.is_dir():
        root = settings.clients_dir()
        names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise ClientError(f"unknown client {client!r}{suggest(client, names)}: no config folder at {folder} "
                          f"(chimera client add {client})")
    return folder


def collect_problems(client: str | None = None) -> tuple[Path, ConfigSet | None, list[str]]:
    """Every problem of a config set: files, cross-file checks, changelog and (base set) schemas."""
    folder = _folder(client)
    problems: list[str] = []
    cs: ConfigSet | None = None
    try:
        cs = load_config_set(folder)
    except ConfigError as exc:
        problems += exc.problems
    if client is not None and (folder / "client.yml").exists():
        problems += _validate(ClientConfig, folder / "client.yml")[2]
    problems += check_changelog(folder, client=client)
    if client is None:
        problems += stale_schemas()
    return folder, cs, problems


@config_app.command("check")
def config_check(
    client: str | None = typer.Option(None, "--client", help=_CLIENT_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Validate agents.yml, kpis.yml and plays.yml together and enforce the changelog rule."""
    folder, cs, problems = collect_problems(client)
    counts = {}
    if cs is not None:
        counts = {"commanders": len(cs.agents.commanders), "bots": len(cs.agents.bots),
                  "kpis": len(cs.kpis.kpis), "plays": len(cs.plays.plays)}
    if json_out:
        emit_json({"client": client, "folder": str(folder), "ok": not problems, "problems": problems,
                   "counts": counts})
    elif not problems:
        summary = ", ".join(f"{n} {k}" for k, n in counts.items())
        out.print(f"config OK in {folder}: {summary}; CHANGELOG.md matches every file",
                  highlight=False, soft_wrap=True)
    if problems:
        if not json_out:  # the JSON lists them; the count line goes to stderr either way
            for line in problems:
                err.print(line, highlight=False, markup=False, soft_wrap=True)
        err.print(f"{len(problems)} problem(s) in {folder}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1)


@config_app.command("schema")
def config_schema(
    out_dir: Path | None = typer.Option(None, "--out", help="Folder to write to (default: configs/schema)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Export JSON Schemas of agents/kpis/plays/client.yml for editors (yaml-language-server)."""
    paths = write_schemas(out_dir)
    if json_out:
        emit_json({"written": [str(p) for p in paths]})
    else:
        for path in paths:
            out.print(f"wrote {path}", highlight=False)


@config_app.command("log")
def config_log(
    file: str = typer.Argument(..., help="Config file name: agents.yml, kpis.yml or plays.yml."),
    reason: str = typer.Option(..., "--reason", help="Why the file changed."),
    effect: str = typer.Option(..., "--effect", help="The effect expected from the change."),
    owner: str = typer.Option(..., "--owner", help="Who owns the change."),
    client: str | None = typer.Option(None, "--client", help="Log in the client's own CHANGELOG.md."),
    on: str | None = typer.Option(None, "--date", help="Date of the change, YYYY-MM-DD (default: today)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Log a config change (reason, expected effect, date, owner, sha256); the set must validate first."""
    folder = _folder(client)
    try:
        when = Date.fromisoformat(on) if on else None
    except ValueError:
        raise ConfigError(f"--date: expected YYYY-MM-DD, got {on!r}") from None
    company_id = None
    if client is not None:
        from chimera.clients import get_client

        company_id = get_client(client).company_id  # also validates the client's set
    else:
        load_config_set(folder)  # never log a broken file as the new good version
    entry = log_change(folder, file, reason, effect, owner, date=when, company_id=company_id)
    if json_out:
        emit_json({"client": client, "file": entry.file, "date": entry.date.isoformat(),
                   "sha256": entry.sha256, "reason": entry.reason, "expected_effect": entry.expected_effect,
                   "owner": entry.owner})
    else:
        where = folder / "CHANGELOG.md"
        out.print(f"logged {entry.file} ({entry.date}, sha256 {entry.sha256[:12]}) in {where}",
                  highlight=False, soft_wrap=True)
