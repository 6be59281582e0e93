"""``chimera config check|schema|log|tag|tags``: the config surfaces of manual §5, their changelog
rule and version tags (manual §9)."""

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
from chimera.config.tags import (
    TagCreated,
    TagList,
    TagState,
    add_tag,
    changed_since,
    check_name,
    cycles_under,
    read_tags,
    refuse_unless_clean,
)
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
        close = suggest(client, names)
        raise ClientError(f"unknown client {client!r}{close}: no config folder at {folder}"
                          + ("" if close else unknown_client_advice(client)))
    return folder


def unknown_client_advice(name: str) -> str:
    """How to see the clients, and to add this one when it can be a client's name. ``chimera client
    add Acme`` beside 'did you mean acme?' sent a typo to be created (and refused: names are lower
    case); with a close name, the suggestion alone says it."""
    from chimera.clients import NAME_RE

    return " (chimera client list" + (f"; chimera client add {name} creates it)" if NAME_RE.match(name) else ")")


def _date(on: str | None) -> Date | None:
    try:
        return Date.fromisoformat(on) if on else None
    except ValueError:
        raise ConfigError(f"--date: expected YYYY-MM-DD, got {on!r}") from None


def _company_id(client: str | None) -> int | None:
    """The client's company id (loading, so validating, its config set); None for the base set."""
    if client is None:
        return None
    from chimera.clients import get_client

    return get_client(client).company_id


def collect_problems(client: str | None = None) -> tuple[Path, ConfigSet | None, list[str]]:
    """Every problem of a config set: files, cross-file checks, changelog and (base set) schemas."""
    from chimera.clients import client_yml_problems

    folder = _folder(client)
    problems: list[str] = []
    cs: ConfigSet | None = None
    try:
        cs = load_config_set(folder)
    except ConfigError as exc:
        problems += exc.problems
    if client is not None and (folder / "client.yml").exists():
        # what every other command refuses (a copied client.yml naming another client), else the schema's view
        problems += client_yml_problems(folder, client) or _validate(ClientConfig, folder / "client.yml")[2]
    problems += check_changelog(folder, client=client)
    problems += read_tags(folder)[1]
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
                  highlight=False, soft_wrap=True, markup=False)
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
            out.print(f"wrote {path}", highlight=False, markup=False)


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
    when = _date(on)
    company_id = _company_id(client)  # also validates the client's set
    if client is None:
        load_config_set(folder)  # never log a broken file as the new good version
    entry = log_change(folder, file, reason, effect, owner, date=when, company_id=company_id)
    if json_out:
        emit_json({"client": client, "file": entry.file, "date": entry.date.isoformat(),
                   "sha256": entry.sha256, "reason": entry.reason, "expected_effect": entry.expected_effect,
                   "owner": entry.owner})
    else:
        where = folder / "CHANGELOG.md"
        out.print(f"logged {entry.file} ({entry.date}, sha256 {entry.sha256[:12]}) in {where}",
                  highlight=False, soft_wrap=True, markup=False)


@config_app.command("tag")
def config_tag(
    name: str = typer.Argument(..., help="Tag name: lower-case letters, digits, '.', '-', '_' (v2, q1-experiments)."),
    reason: str = typer.Option(..., "--reason", help="Why this version is tagged (new experiment cycle, ...)."),
    owner: str = typer.Option(..., "--owner", help="Who owns the tag."),
    client: str | None = typer.Option(None, "--client", help="Tag the client's own config set."),
    on: str | None = typer.Option(None, "--date", help="Date of the tag, YYYY-MM-DD (default: today)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Tag the config set as it is now (manual §9); refused while config check fails."""
    folder = _folder(client)
    when = _date(on)
    check_name(folder, name)
    refuse_unless_clean(name, collect_problems(client)[2], client)
    company_id = _company_id(client)
    tag = add_tag(folder, name, reason, owner, client=client, date=when, company_id=company_id)
    if json_out:
        emit_json(TagCreated(client=client, folder=str(folder), name=tag.name, date=tag.date, reason=tag.reason,
                             owner=tag.owner, sha256=tag.sha256).model_dump(mode="json"))
    else:
        hashes = ", ".join(f"{f} {h[:12]}" for f, h in tag.sha256.items())
        out.print(f"tagged {tag.name} ({tag.date}: {hashes}) in {folder / 'CHANGELOG.md'}",
                  highlight=False, soft_wrap=True, markup=False)


@config_app.command("tags")
def config_tags(
    client: str | None = typer.Option(None, "--client", help="List the client's own tags."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """List version tags: whether the files still match each, and the cycles run under it."""
    folder = _folder(client)
    tags, problems = read_tags(folder)
    cycles = cycles_under(tags, client)  # never loads the set: a broken one still lists its tags
    states = [TagState(name=t.name, date=t.date, reason=t.reason, owner=t.owner, sha256=t.sha256, line=t.line,
                       matches=not (c := changed_since(folder, t)), changed=c, cycles=cycles[t.name]) for t in tags]
    if json_out:
        emit_json(TagList(client=client, folder=str(folder), tags=states, problems=problems).model_dump(mode="json"))
    else:
        _print_tags(folder, states, client)
    for line in problems:
        err.print(line, highlight=False, markup=False, soft_wrap=True)


def _print_tags(folder: Path, states: list[TagState], client: str | None) -> None:
    if not states:
        scope = f" --client {client}" if client else ""
        out.print(f"no version tags in {folder / 'CHANGELOG.md'}; tag the current set: "
                  f"chimera config tag NAME --reason R --owner O{scope}", highlight=False, soft_wrap=True, markup=False)
    for t in states:
        now = "matches the current files" if t.matches else f"changed since: {', '.join(t.changed)}"
        runs = t.cycles
        ran = f"cycles run under it: {runs.count}" + (f" (first {runs.first}, last {runs.last})" if runs.count else "")
        out.print(f"{t.name}  {t.date}  {t.owner}: {t.reason}\n    {now}; {ran}", highlight=False, soft_wrap=True)
