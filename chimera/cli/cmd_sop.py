"""``chimera sop add|search|list|show``: the SOP libraries the commanders cite."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from chimera.cli.app import emit_json, out, sop_app
from chimera.sop import add_sop, get_sop, list_sops, search

ROOT_HELP = "Library root (default: the project's libraries/; $CHIMERA_HOME/libraries/ is always read too)."


@sop_app.command("add")
def sop_add(
    file: Path = typer.Argument(..., help="A markdown SOP with front matter (title, tags, plays, kpis)."),
    library: str = typer.Option(..., "--library", "-l", help="Library folder, e.g. commerce."),
    create: bool = typer.Option(False, "--create", help="Create the library folder if it does not exist."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an SOP of the same name."),
    root: Path | None = typer.Option(None, "--root", help=ROOT_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Check an SOP's front matter and copy it into a library; the next search finds it."""
    dest = add_sop(file, library, root, create_library=create, overwrite=overwrite)
    rel = f"{library}/{dest.name}"
    doc = get_sop(rel, root)
    if json_out:
        emit_json({"library": library, "file": rel, "path": str(dest), "title": doc.title})
    else:
        out.print(f"added [bold]{escape(rel)}[/] ({escape(doc.title)}) -> {escape(str(dest))}")


@sop_app.command("search")
def sop_search(
    query: str = typer.Argument(..., help="Free text, e.g. 'price test best sellers'."),
    library: list[str] | None = typer.Option(None, "--library", "-l", help="Only this library (repeatable)."),
    limit: int = typer.Option(5, "--limit", "-n", min=1, max=50, help="At most this many SOPs."),
    root: Path | None = typer.Option(None, "--root", help=ROOT_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Full-text search (best section per SOP, bm25 ranking)."""
    hits = search(query, libraries=library or None, limit=limit, root=root)
    if json_out:
        emit_json({"query": query, "hits": [h.model_dump() for h in hits]})
        return
    if not hits:
        out.print("no SOP matches; list them with: chimera sop list")
        return
    table = Table(show_lines=True, expand=True)
    table.add_column("file", overflow="fold", ratio=2)
    table.add_column("heading", overflow="fold", ratio=2)
    table.add_column("excerpt", ratio=6)
    table.add_column("score", justify="right")
    for h in hits:
        table.add_row(*map(escape, (f"{h.file}:{h.line}", h.heading, h.excerpt)), f"{h.score:.2f}")
    out.print(table)


@sop_app.command("list")
def sop_list(
    library: str | None = typer.Option(None, "--library", "-l", help="Only this library."),
    root: Path | None = typer.Option(None, "--root", help=ROOT_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Every SOP with its title, plays and KPIs; front matter problems are shown, not hidden."""
    sops = list_sops(library, root)
    if json_out:
        emit_json({"sops": [s.model_dump() for s in sops]})
        return
    table = Table()
    table.add_column("file", overflow="fold", min_width=16)
    for name in ("title", "plays", "kpis", "problems"):
        table.add_column(name, overflow="fold")
    for s in sops:
        table.add_row(*map(escape, (s.file, s.title, ", ".join(s.plays), ", ".join(s.kpis), "\n".join(s.problems))))
    out.print(table if sops else "no SOPs yet: chimera sop add FILE --library NAME")


@sop_app.command("show")
def sop_show(
    file: str = typer.Argument(..., help="Relative path, e.g. commerce/pricing-test.md."),
    root: Path | None = typer.Option(None, "--root", help=ROOT_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Print one SOP."""
    doc = get_sop(file, root)
    if json_out:
        emit_json(doc.model_dump(mode="json"))
    else:
        out.print(f"[bold]{escape(doc.title)}[/]  ({escape(doc.file)}, {escape(str(doc.path))})")
        out.print(doc.text, markup=False, highlight=False)
