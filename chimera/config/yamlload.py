"""YAML loading that remembers the line of every key and list item.

Pydantic reports errors by location (``("plays", 3, "trigger", "kpi")``); the line map turns that
location into ``plays.yml:42`` so a person can go straight to the mistake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from chimera.errors import ConfigError

Loc = tuple[str | int, ...]
# libyaml composes ~10x faster with the same marks; without it the pure-Python loader does the job
_FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DuplicateKey(Exception):
    def __init__(self, loc: Loc, line: int) -> None:
        self.loc, self.line = loc, line


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], scalars: yaml.SafeLoader) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in out:  # PyYAML would silently keep the last one
                raise _DuplicateKey((*loc, key), key_node.start_mark.line + 1)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            out[key] = _walk(value_node, (*loc, key), lines, scalars)
            lines[(*loc, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*loc, i), lines, scalars) for i, item in enumerate(node.value)]
    return scalars.construct_object(node)  # compose resolved the tag (int, float, bool, date, ...)


def load_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse ``path`` into plain data plus a map from location to 1-based line number."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    try:
        node = yaml.compose(text, Loader=_FAST)
    except yaml.YAMLError:
        node = None  # re-read below with the pure-Python loader, whose messages are stable
    try:
        if node is None:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"{path.name}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    lines: dict[Loc, int] = {}
    if node is None:
        return {}, lines
    try:
        # a fresh loader per file: its constructor caches nodes and is not thread-safe
        return _walk(node, (), lines, yaml.SafeLoader("")), lines
    except _DuplicateKey as dup:
        field = ".".join(str(p) for p in dup.loc)
        raise ConfigError(f"{path.name}:{dup.line}: {field}: duplicate key (first at line "
                          f"{lines.get(dup.loc, '?')}; each key may appear once)") from None


def line_of(lines: dict[Loc, int], loc: Loc) -> int:
    """The line of ``loc``, or of its nearest ancestor that has one."""
    loc = tuple(loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get((), 1)
