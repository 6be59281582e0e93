"""SOP files on disk: where they are, their front matter, and adding, listing and reading them.

Two roots are read, in order: the project's ``libraries/`` (or the ``root`` a caller passes) and
``$CHIMERA_HOME/libraries/``; a file at the same relative path in the later root wins, so a client
can tailor a shipped SOP without editing it. Listing is lenient (a bad front matter is reported in
``problems``); ``add_sop`` is strict, because that is where a person can fix the file.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import yaml
from pydantic import ValidationError

from chimera import settings
from chimera.errors import SopError
from chimera.sop.models import LIBRARY_PATTERN, SopDoc, SopFrontMatter, SopSummary

MARKDOWN_SUFFIXES = (".md", ".markdown")
MAX_SOP_BYTES = 1_000_000
_FENCE = re.compile(r"^---\s*$")
_END = re.compile(r"^(---|\.\.\.)\s*$")


def suggest(value: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def library_roots(root: Path | None = None) -> list[Path]:
    """The roots searched, lowest precedence first: ``root`` (default the project's) then the home's."""
    out: list[Path] = []
    for cand in (Path(root) if root else settings.LIBRARIES_DIR, settings.home() / "libraries"):
        cand = cand.resolve()
        if cand not in out:
            out.append(cand)
    return out


def library_names(root: Path | None = None) -> list[str]:
    """Library folders present in any root (hidden folders excluded)."""
    names = {
        d.name for r in library_roots(root) if r.is_dir() for d in r.iterdir()
        if d.is_dir() and not d.name.startswith(".")
    }
    return sorted(names)


def discover(root: Path | None = None) -> dict[str, Path]:
    """Every SOP as ``{"library/file.md": absolute path}``; a later root overrides an earlier one.

    Runs before every search, so it walks with ``os.walk`` (no per-file pathlib work) and skips
    hidden files and folders (``.gitkeep``, editor swap files, ``.git``).
    """
    found: dict[str, Path] = {}
    for r in library_roots(root):
        if not r.is_dir():
            continue
        for lib in sorted(d.name for d in r.iterdir() if d.is_dir() and not d.name.startswith(".")):
            for folder, dirs, files in os.walk(r / lib):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                rel_dir = os.path.relpath(folder, r).replace(os.sep, "/")
                for name in sorted(files):
                    if not name.startswith(".") and name.lower().endswith(MARKDOWN_SUFFIXES):
                        found[f"{rel_dir}/{name}"] = Path(folder, name)
    return found


def split_front_matter(text: str) -> tuple[str | None, str, int]:
    """``(front matter text or None, body, 1-based line where the body starts)``."""
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or not _FENCE.match(lines[0]):
        return None, "".join(lines), 1
    for i in range(1, len(lines)):
        if _END.match(lines[i]):
            return "".join(lines[1:i]), "".join(lines[i + 1 :]), i + 2
    return None, "".join(lines), 1


def _key_line(fm_text: str, key: object) -> int:
    """1-based line of ``key:`` inside the front matter file (front matter starts on line 2)."""
    for i, line in enumerate(fm_text.splitlines()):
        if re.match(rf"^{re.escape(str(key))}\s*:", line):
            return i + 2
    return 1


def parse_front_matter(text: str, source: str) -> tuple[SopFrontMatter | None, str, int, list[str]]:
    """Parse the front matter; problems are ``source:line: field: what is wrong`` strings."""
    fm_text, body, body_line = split_front_matter(text)
    if fm_text is None:
        return None, body, body_line, [
            f"{source}:1: front matter: missing; expected the file to start with a '---' line, then "
            "'title: ...', 'tags: [...]', 'plays: [...]', 'kpis: [...]', then a closing '---' line"
        ]
    try:
        data = yaml.safe_load(fm_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, body, body_line, [f"{source}:{line}: front matter: invalid YAML: {problem}"]
    if not isinstance(data, dict):
        return None, body, body_line, [
            f"{source}:2: front matter: expected 'key: value' lines, got {type(data).__name__}"
        ]
    try:
        return SopFrontMatter.model_validate(data), body, body_line, []
    except ValidationError as exc:
        return None, body, body_line, [_problem(source, fm_text, err) for err in exc.errors()]


def _problem(source: str, fm_text: str, err: dict) -> str:
    loc = err["loc"]
    field = ".".join(str(p) for p in loc)
    line = _key_line(fm_text, loc[0]) if loc else 1
    if err["type"] == "extra_forbidden":
        allowed = list(SopFrontMatter.model_fields)
        return (f"{source}:{line}: {field}: unknown field{suggest(str(loc[0]), allowed)}; "
                f"expected one of {', '.join(allowed)}")
    if err["type"] == "missing":
        return f"{source}:{line}: {field}: missing; every SOP needs 'title: ...'"
    return f"{source}:{line}: {field}: {err['msg']} (got {err.get('input')!r})"


def _first_heading(body: str) -> str | None:
    for line in body.splitlines():
        m = re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)
        if m:
            return m.group(1)
    return None


def read_sop(path: Path, rel: str) -> SopDoc:
    """Read one SOP leniently: a bad front matter becomes ``problems``, the title falls back."""
    text = path.read_text(encoding="utf-8", errors="replace")
    fm, body, body_line, problems = parse_front_matter(text, rel)
    title = fm.title if fm else (_first_heading(body) or PurePosixPath(rel).stem.replace("-", " "))
    return SopDoc(
        library=rel.split("/", 1)[0], file=rel, title=title,
        tags=fm.tags if fm else [], plays=fm.plays if fm else [], kpis=fm.kpis if fm else [],
        problems=problems, front_matter=fm, text=body, body_line=body_line, path=path,
    )


def _check_library(library: str, root: Path | None) -> None:
    known = library_names(root)
    if library not in known:
        raise SopError(f"library {library!r} not found{suggest(library, known)}; "
                       f"known libraries: {', '.join(known) or '(none)'}")


def list_sops(library: str | None = None, root: Path | None = None) -> list[SopSummary]:
    """Every SOP (or one library's), sorted by file, with front matter problems if any."""
    if library is not None:
        _check_library(library, root)
    out = []
    for rel, path in sorted(discover(root).items()):
        if library is None or rel.split("/", 1)[0] == library:
            try:
                doc = read_sop(path, rel)
            except OSError:  # removed while listing, or a dangling symlink
                continue
            out.append(SopSummary.model_validate(doc.model_dump(include=set(SopSummary.model_fields))))
    return out


def _normalize_rel(file: str) -> str:
    rel = PurePosixPath(str(file).replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts or len(rel.parts) < 2:
        raise SopError(f"SOP {file!r}: expected a path like 'library/file.md' inside the library root")
    return rel.as_posix()


def get_sop(file: str, root: Path | None = None) -> SopDoc:
    """One SOP by its relative path, e.g. ``get_sop("commerce/pricing-test.md")``."""
    rel = _normalize_rel(file)
    found = discover(root)
    if rel not in found:
        raise SopError(f"SOP {rel!r} not found{suggest(rel, found)}; list them with: chimera sop list")
    return read_sop(found[rel], rel)


def _read_markdown(path: Path) -> str:
    if not path.is_file():
        raise SopError(f"{path}: no such file")
    if path.suffix.lower() not in MARKDOWN_SUFFIXES:
        raise SopError(f"{path}: expected a markdown file (.md or .markdown), got "
                       f"{path.suffix or 'no extension'!r}; SOPs are markdown with YAML front matter")
    raw = path.read_bytes()
    if len(raw) > MAX_SOP_BYTES:
        raise SopError(f"{path}: {len(raw)} bytes; an SOP is at most {MAX_SOP_BYTES} bytes, split it")
    if b"\x00" in raw:
        raise SopError(f"{path}: contains NUL bytes; expected markdown text, not a binary file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SopError(f"{path}: byte {exc.start} is not UTF-8; save the file as UTF-8 text") from None


def validate_sop_text(text: str, source: str, known_plays: Iterable[str] | None = None,
                      known_kpis: Iterable[str] | None = None) -> SopFrontMatter:
    """Strict check of one SOP's text; raises SopError listing every problem."""
    fm, body, _, problems = parse_front_matter(text, source)
    if fm is not None:
        fm_text = split_front_matter(text)[0] or ""
        for key, values, known in (("plays", fm.plays, known_plays), ("kpis", fm.kpis, known_kpis)):
            if known is None:
                continue
            known = sorted(set(known))
            problems += [f"{source}:{_key_line(fm_text, key)}: {key}: unknown id {v!r}{suggest(v, known)}"
                         for v in values if v not in known]
    if not body.strip():
        problems.append(f"{source}: body: empty; write the procedure below the front matter")
    if problems:
        raise SopError("\n".join(problems))
    assert fm is not None
    return fm


def add_sop(path: Path | str, library: str, root: Path | None = None, *, create_library: bool = False,
            overwrite: bool = False, known_plays: Iterable[str] | None = None,
            known_kpis: Iterable[str] | None = None) -> Path:
    """Copy a validated markdown SOP into ``<root>/<library>/``; returns the new file's path."""
    path = Path(path)
    text = _read_markdown(path)
    if not re.match(LIBRARY_PATTERN, library):
        raise SopError(f"library {library!r}: expected lower-case letters, digits, '-' or '_'")
    validate_sop_text(text, str(path), known_plays, known_kpis)
    base = Path(root) if root else settings.LIBRARIES_DIR
    dest_dir = base / library
    if not dest_dir.is_dir():
        if not create_library:
            known = library_names(root)
            raise SopError(f"library {library!r} not found under {base}{suggest(library, known)}; "
                           f"known: {', '.join(known) or '(none)'}; pass --create to start a new library")
        dest_dir.mkdir(parents=True)
    dest = dest_dir / path.name
    if dest.exists() and dest.resolve() != path.resolve():
        if dest.read_bytes() != path.read_bytes() and not overwrite:
            raise SopError(f"{dest}: already exists with different content; pass --overwrite to replace it")
    if dest.resolve() != path.resolve():
        shutil.copyfile(path, dest)
    return dest
