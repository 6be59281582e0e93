"""The contracts of the SOP library: front matter, a document, a listing row and a search hit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[a-z][a-z0-9_]*$"
LIBRARY_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
Ident = Annotated[str, Field(pattern=ID_PATTERN)]


class SopFrontMatter(BaseModel):
    """The YAML block between ``---`` lines at the top of every SOP (written by people)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    """Name shown in listings and citations."""
    tags: list[str] = []
    """Free words that help search (pricing, email, refunds, ...)."""
    plays: list[Ident] = []
    """Play ids (configs/plays.yml) this SOP explains how to run."""
    kpis: list[Ident] = []
    """KPI ids (configs/kpis.yml) this SOP watches or moves."""
    owner: str | None = None
    """Optional commander or person who maintains the SOP."""


class SopSummary(BaseModel):
    """One row of ``list_sops``: where a SOP is and what its front matter says."""

    library: str
    """Library folder name (commerce, growth, ...)."""
    file: str
    """Path relative to the library root, e.g. ``commerce/pricing-test.md``."""
    title: str
    tags: list[str] = []
    plays: list[str] = []
    kpis: list[str] = []
    problems: list[str] = []
    """Front matter problems (file:line: field: problem); empty when the SOP is valid."""


class SopDoc(SopSummary):
    """A whole SOP as ``get_sop`` returns it."""

    front_matter: SopFrontMatter | None = None
    """The parsed front matter, None when it is missing or invalid (see ``problems``)."""
    text: str
    """The markdown body without the front matter. Untrusted: see ``sanitize_for_prompt``."""
    body_line: int = 1
    """1-based line of the file where ``text`` starts (after the front matter)."""
    path: Path
    """Absolute path of the file that was read (the per-home copy wins over the project copy)."""


class SopHit(BaseModel):
    """One search result: the best matching section of one SOP."""

    library: str
    file: str
    """Path relative to the library root, e.g. ``commerce/pricing-test.md``."""
    title: str
    heading: str
    """The markdown heading of the matching section (the title for text before the first heading)."""
    excerpt: str
    """At most ~400 characters: the FTS5 snippet around the match, or the section start."""
    score: float
    """Relevance, higher is better (negated FTS5 bm25)."""
    line: int
    """1-based line of the section heading in the file, for citations (file:line)."""
