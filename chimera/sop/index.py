"""Full-text search over the SOP libraries: SQLite FTS5 with bm25, one row per markdown section.

The index lives in memory, one per set of roots, and is brought up to date on every search by
comparing each file's mtime and size with what was indexed (a stat per file: cheap), so a file
dropped into a library folder is found by the next search and a removed one disappears, with no
restart. Queries are user or model text: they are reduced to word tokens, each quoted for FTS5, and
OR-ed, so punctuation can never reach the FTS5 query parser.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path
from typing import NamedTuple

from chimera.errors import SopError
from chimera.sop.library import discover, library_names, library_roots, read_sop, suggest
from chimera.sop.models import SopHit

EXCERPT_CHARS = 400
MAX_SECTION_CHARS = 2_000
MAX_QUERY_TOKENS = 32
_DOC_WEIGHTS = "3.0, 2.0"  # bm25 weights of docs.title, docs.keys
_CHUNK_WEIGHTS = "2.0, 1.0"  # bm25 weights of chunks.heading, chunks.body
_MAX_CHUNK_ROWS = 500
_STOPWORDS = frozenset(
    "a an and are as at be by can do does for from how i if in is it its me my of on or our should "
    "so that the their then there this to was we what when where which who why will with you your".split()
)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


class Section(NamedTuple):
    heading: str
    line: int
    """1-based line of the heading in the file."""
    text: str


def sections(body: str, body_line: int, title: str) -> list[Section]:
    """Split a markdown body at headings (not inside code fences); long sections at paragraphs."""
    out: list[Section] = []
    heading, start, buf, fenced = title, body_line, [], False
    for i, line in enumerate(body.splitlines()):
        if _FENCE.match(line):
            fenced = not fenced
        m = None if fenced else _HEADING.match(line)
        if m:
            out += _split_long(heading, start, "\n".join(buf))
            heading, start, buf = m.group(2), body_line + i, []
        else:
            buf.append(line)
    out += _split_long(heading, start, "\n".join(buf))
    return [s for s in out if s.text.strip() or s.heading != title]


def _split_long(heading: str, line: int, text: str) -> list[Section]:
    if len(text) <= MAX_SECTION_CHARS:
        return [Section(heading, line, text.strip())]
    parts, cur = [], ""
    for para in re.split(r"\n\s*\n", text):
        if cur and len(cur) + len(para) > MAX_SECTION_CHARS:
            parts.append(cur)
            cur = ""
        cur = f"{cur}\n\n{para}" if cur else para
    parts.append(cur)
    return [Section(heading, line, p.strip()) for p in parts if p.strip()]


def query_tokens(query: str) -> list[str]:
    """Word tokens of a free-text query, stop words dropped (unless nothing else is left)."""
    words = [w[:64] for w in re.findall(r"\w+", str(query).lower()) if w.strip("_")]
    kept = [w for w in words if w not in _STOPWORDS and (len(w) > 1 or w.isdigit())] or words
    return list(dict.fromkeys(kept))[:MAX_QUERY_TOKENS]


def fts_match(tokens: list[str]) -> str:
    """An FTS5 MATCH expression: each token a quoted string, OR-ed (bm25 rewards matching more)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in tokens)


class _Index:
    """One in-memory FTS5 index over a set of roots, guarded by a lock (searches may come from threads).

    Two tables, because FTS5's bm25 normalizes by the length of the whole row: ``docs`` scores a file by
    its title and front-matter keys, ``chunks`` scores sections by heading and body; a hit's score is
    the sum, so a short section does not win on the title alone.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.conn = sqlite3.connect(":memory:", check_same_thread=False)
        self.conn.executescript(
            "CREATE VIRTUAL TABLE docs USING fts5(file UNINDEXED, title, keys, tokenize = 'porter unicode61');"
            "CREATE VIRTUAL TABLE chunks USING fts5(library UNINDEXED, file UNINDEXED, heading, body, "
            "line UNINDEXED, tokenize = 'porter unicode61');"
            "CREATE TABLE files (file TEXT PRIMARY KEY, path TEXT, mtime INTEGER, size INTEGER, "
            "library TEXT, title TEXT, heading TEXT, line INTEGER, body TEXT);"
            "CREATE INDEX files_library ON files (library);"
        )

    def refresh(self, found: dict[str, Path]) -> int:
        """Re-index new or changed files, drop removed ones; returns how many files were (re)read."""
        stamps: dict[str, tuple[str, int, int]] = {}
        for rel, path in found.items():
            try:
                st = path.stat()
            except OSError:
                continue
            stamps[rel] = (str(path), st.st_mtime_ns, st.st_size)
        stored = {r[0]: tuple(r[1:]) for r in self.conn.execute("SELECT file, path, mtime, size FROM files")}
        changed = [rel for rel, stamp in stamps.items() if stored.get(rel) != stamp]
        gone = [rel for rel in stored if rel not in stamps]
        with self.conn:
            for rel in gone + changed:
                for table in ("docs", "chunks", "files"):
                    self.conn.execute(f"DELETE FROM {table} WHERE file = ?", (rel,))
            for rel in changed:
                self._add(rel, found[rel], stamps[rel])
        return len(changed)

    def _add(self, rel: str, path: Path, stamp: tuple[str, int, int]) -> None:
        try:
            doc = read_sop(path, rel)
        except OSError:
            return
        secs = sections(doc.text, doc.body_line, doc.title) or [Section(doc.title, doc.body_line, "")]
        keys = " ".join([doc.library, Path(rel).stem, *doc.tags, *doc.plays, *doc.kpis])
        self.conn.execute("INSERT INTO docs VALUES (?, ?, ?)", (rel, doc.title, keys))
        self.conn.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?)",
                              [(doc.library, rel, s.heading, s.text, s.line) for s in secs])
        self.conn.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          (rel, *stamp, doc.library, doc.title, secs[0].heading, secs[0].line, secs[0].text))

    def query(self, match: str, libraries: list[str] | None, limit: int) -> list[tuple]:
        """``(library, file, title, heading, line, snippet, body, score)`` rows, best first."""
        marks = ", ".join("?" * len(libraries or []))
        lib_filter = f" AND file IN (SELECT file FROM files WHERE library IN ({marks}))" if libraries else ""
        params = [match, *(libraries or [])]
        scores = {f: -rank for f, rank in self.conn.execute(
            f"SELECT file, bm25(docs, 0, {_DOC_WEIGHTS}) FROM docs WHERE docs MATCH ?{lib_filter}", params)}
        lib_chunks = f" AND library IN ({marks})" if libraries else ""
        best: dict[str, int] = {}
        for rowid, f, rank in self.conn.execute(
            f"SELECT rowid, file, bm25(chunks, 0, 0, {_CHUNK_WEIGHTS}, 0) AS rank FROM chunks "
            f"WHERE chunks MATCH ?{lib_chunks} ORDER BY rank, file, line LIMIT {_MAX_CHUNK_ROWS}", params):
            if f not in best:
                best[f] = rowid
                scores[f] = scores.get(f, 0.0) - rank
        top = sorted(scores, key=lambda f: (-scores[f], f))[:limit]
        # Snippets only for the chosen sections: computing them for every match is the costly part.
        ids = [best[f] for f in top if f in best]
        picked = {r[0]: r[1:] for r in self.conn.execute(
            f"SELECT rowid, heading, line, snippet(chunks, 3, '', '', ' … ', 48), body FROM chunks "
            f"WHERE chunks MATCH ? AND rowid IN ({', '.join('?' * len(ids))})", [match, *ids])} if ids else {}
        rows = []
        for f in top:
            library, title, heading, line, body = self.conn.execute(
                "SELECT library, title, heading, line, body FROM files WHERE file = ?", (f,)).fetchone()
            snip = ""
            if f in best:
                heading, line, snip, body = picked[best[f]]
            rows.append((library, f, title, heading, line, snip, body, scores[f]))
        return rows


_INDEXES: dict[tuple[Path, ...], _Index] = {}
_INDEXES_LOCK = threading.Lock()
_MAX_INDEXES = 16


def _index_for(root: Path | None) -> _Index:
    """The index for this set of roots; the least recently used one is dropped past ``_MAX_INDEXES``."""
    key = tuple(library_roots(root))
    with _INDEXES_LOCK:
        index = _INDEXES.pop(key, None) or _Index()
        _INDEXES[key] = index
        while len(_INDEXES) > _MAX_INDEXES:
            _INDEXES.pop(next(iter(_INDEXES)))
        return index


def _excerpt(snippet: str, body: str) -> str:
    text = " ".join((snippet or body).split())
    if not text:
        text = " ".join(body.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rstrip() + "…"


def search(query: str, libraries: list[str] | None = None, limit: int = 5,
           root: Path | None = None) -> list[SopHit]:
    """The best matching sections for ``query``, at most one per file, best first."""
    if libraries:
        known = library_names(root)
        for lib in libraries:
            if lib not in known:
                raise SopError(f"library {lib!r} not found{suggest(lib, known)}; "
                               f"known libraries: {', '.join(known) or '(none)'}")
    tokens = query_tokens(query)
    if not tokens or limit <= 0:
        return []
    index = _index_for(root)
    with index.lock:
        index.refresh(discover(root))
        rows = index.query(fts_match(tokens), list(libraries or []), limit)
    return [SopHit(library=library, file=file, title=title, heading=heading, excerpt=_excerpt(snip, body),
                   score=round(score, 6), line=line)
            for library, file, title, heading, line, snip, body, score in rows]


def refresh(root: Path | None = None) -> int:
    """Bring the index for ``root`` up to date now; returns how many files were (re)indexed."""
    index = _index_for(root)
    with index.lock:
        return index.refresh(discover(root))
