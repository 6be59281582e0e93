"""SOP libraries the commanders cite: markdown files under ``libraries/<library>/``, searchable.

Public API::

    search(query, libraries=None, limit=5, root=None) -> list[SopHit]
    list_sops(library=None, root=None) -> list[SopSummary]
    get_sop(file, root=None) -> SopDoc
    add_sop(path, library, root=None, *, create_library=False, overwrite=False) -> Path
    sanitize_for_prompt(text, source=None) -> str      # SOP text is untrusted model input
"""

from chimera.sop.index import refresh, search
from chimera.sop.library import add_sop, get_sop, library_names, library_roots, list_sops, validate_sop_text
from chimera.sop.models import SopDoc, SopFrontMatter, SopHit, SopSummary
from chimera.sop.safety import FLAG, hits_for_prompt, is_instruction_like, sanitize_for_prompt

__all__ = [
    "FLAG",
    "SopDoc",
    "SopFrontMatter",
    "SopHit",
    "SopSummary",
    "add_sop",
    "get_sop",
    "hits_for_prompt",
    "is_instruction_like",
    "library_names",
    "library_roots",
    "list_sops",
    "refresh",
    "sanitize_for_prompt",
    "search",
    "validate_sop_text",
]
