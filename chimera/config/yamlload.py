"""YAML loading that remembers the line of every key and list item.

Pydantic reports errors by location (``("plays", 3, "trigger", "kpi")``); the line map turns that
location into ``plays.yml:42`` so a person can go straight to the mistake. Whatever a person saved
(a BOM, CRLF, UTF-16 from Notepad, merge keys ``<<: *anchor``) loads like plain YAML; whatever cannot
be read (another encoding, a tab indent, an unknown tag, a self-referring alias, a file nested or
aliased into millions of nodes) is one ``file:line: problem`` ConfigError, never a traceback.
"""

from __future__ import annotations

import codecs
import copy
from pathlib import Path
from typing import Any

import yaml

from chimera.errors import ConfigError

Loc = tuple[str | int, ...]
# libyaml composes ~10x faster with the same marks; without it the pure-Python loader does the job
_FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"
MAX_DEPTH = 100
"""Nesting deeper than this is refused (a trigger is a handful of levels; Python recursion is finite)."""
MAX_NODES = 200_000
"""More values than this once aliases are expanded is refused (an alias bomb, not a config)."""


class _Problem(Exception):
    """A problem found while walking the composed nodes, at a 1-based line."""

    def __init__(self, line: int, message: str) -> None:
        self.line, self.message = line, message


class _DuplicateKey(Exception):
    def __init__(self, loc: Loc, line: int) -> None:
        self.loc, self.line = loc, line


class _AliasLoader(yaml.SafeLoader):
    """The pure-Python loader, where each use of an alias keeps its own line: it composes to a shallow
    copy of the anchored node (children shared) that knows the alias's line and the node it stands for.
    Used for files with anchors only (the C loader is ~10x faster and forgets where aliases were)."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if not self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        line = self.peek_event().start_mark.line + 1
        node = super().compose_node(parent, index)
        used = copy.copy(node)
        used.alias_line, used.alias_of = line, getattr(node, "alias_of", node)
        return used


class _Walker:
    """Plain data and the line map from a composed node tree (merge keys applied, as safe_load does)."""

    def __init__(self) -> None:
        self.lines: dict[Loc, int] = {}
        self.nodes = 0
        self.path: set[int] = set()  # ids of the collections being walked: an alias back to one is a loop
        self.scalars = yaml.SafeLoader("")  # a fresh loader per file: its constructor caches nodes

    def walk(self, node: yaml.Node, loc: Loc, lines: dict[Loc, int], at: int | None = None) -> Any:
        """``at``: the line of the alias this node is reached through (everything under it is there)."""
        at = getattr(node, "alias_line", at)
        line = at or node.start_mark.line + 1
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Problem(line, f"too large: more than {MAX_NODES:,} values once aliases are expanded")
        lines[loc] = line
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if id(node) in self.path:
            raise _Problem(line, "an alias refers to itself (a list or mapping cannot contain itself)")
        if len(self.path) >= MAX_DEPTH:
            raise _Problem(line, f"nests deeper than {MAX_DEPTH} levels")
        self.path.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.walk(item, (*loc, i), lines, at) for i, item in enumerate(node.value)]
            return self.mapping(node, loc, lines, at)
        finally:
            self.path.discard(id(node))

    def scalar(self, node: yaml.ScalarNode) -> Any:
        try:
            return self.scalars.construct_object(node)  # compose resolved the tag (int, float, bool, date...)
        except yaml.YAMLError:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise _Problem(node.start_mark.line + 1,
                           f"unknown tag {tag!r} on {node.value!r} (remove the tag)") from None
        except (ValueError, TypeError, OverflowError) as exc:
            raise _Problem(node.start_mark.line + 1, f"{node.value!r} is not a valid "
                           f"{node.tag.rsplit(':', 1)[-1]} ({exc}); quote it to keep it as text") from None

    def key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise _Problem(node.start_mark.line + 1, "a key must be a plain name, not a list or a mapping")
        return node.value

    def mapping(self, node: yaml.MappingNode, loc: Loc, lines: dict[Loc, int], at: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merges: list[tuple[int, yaml.Node]] = []
        for key_node, value_node in node.value:
            key_line = at or key_node.start_mark.line + 1
            if key_node.tag == _MERGE:
                merges.append((key_line, value_node))
                continue
            key = self.key(key_node)
            if key in out:  # PyYAML would silently keep the last one
                raise _DuplicateKey((*loc, key), key_line)
            lines[(*loc, key)] = key_line
            out[key] = self.walk(value_node, (*loc, key), lines, at)
            lines[(*loc, key)] = key_line
        for line, value_node in merges:  # explicit keys win; among merged mappings the first one wins
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in sources:
                self.merge(line, source, loc, out, lines)
        return out

    def merge(self, line: int, source: yaml.Node, loc: Loc, out: dict[str, Any], lines: dict[Loc, int]) -> None:
        """Copy the keys of ``source`` (the mapping a ``<<`` key on ``line`` names) that ``out`` lacks."""
        source = getattr(source, "alias_of", source)  # merged keys keep the lines they are written on
        if not isinstance(source, yaml.MappingNode):
            raise _Problem(line, "'<<' merges a mapping (an alias like <<: *defaults "
                           "of a mapping written with &defaults), not a single value or a list of values")
        found: dict[Loc, int] = {}
        merged = self.walk(source, loc, found)
        for key, value in merged.items():
            if key not in out:
                out[key] = value
                lines.update({k: v for k, v in found.items() if k[: len(loc) + 1] == (*loc, key)})


def read_config_text(path: Path) -> str:
    """The file as text: UTF-8 (with or without a BOM), or UTF-16 with its BOM (Windows Notepad); any
    other encoding is a ConfigError naming the line of the first byte that is not UTF-8."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line, column = raw[: exc.start].count(b"\n") + 1, exc.start - raw.rfind(b"\n", 0, exc.start)
        raise ConfigError(f"{path.name}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column "
                          f"{column}); save the file as UTF-8") from None


def _syntax_problem(path: Path, text: str, exc: yaml.YAMLError) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        line = mark.line + 1
    elif isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1
    else:
        line = 1
    if isinstance(exc, yaml.reader.ReaderError):
        problem = f"special character {chr(exc.character)!r} is not allowed in YAML"
    else:
        problem = str(getattr(exc, "problem", None) or getattr(exc, "context", None) or exc).splitlines()[0]
        context, at = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and at is not None and at.line + 1 != line:  # where the unfinished thing began
            problem += f" ({context} started at line {at.line + 1})"
    if "'\\t'" in problem:
        problem += " (indent with spaces, not tabs)"
    return ConfigError(f"{path.name}:{line}: not valid YAML: {problem}")


def _compose(path: Path, text: str) -> yaml.Node | None:
    # anchors: the loader that keeps alias lines, unless only libyaml reads the file (it allows a tab
    # before a comment, as YAML does; the pure-Python loader does not)
    for loader in (_AliasLoader, _FAST) if "&" in text else (_FAST,):
        try:
            return yaml.compose(text, Loader=loader)
        except (yaml.YAMLError, RecursionError):
            pass  # re-read below with the pure-Python loader, whose messages are stable
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _syntax_problem(path, text, exc) from None
    except RecursionError:
        raise ConfigError(f"{path.name}:{_too_deep_at(text)}: nests deeper than {MAX_DEPTH} levels") from None


def _too_deep_at(text: str) -> int:
    """The line where nesting first goes past ``MAX_DEPTH`` (the event stream is read without recursion)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return event.start_mark.line + 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return 1


def load_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse ``path`` into plain data plus a map from location to 1-based line number."""
    text = read_config_text(path)
    node = _compose(path, text)
    lines: dict[Loc, int] = {}
    if node is None:
        return {}, lines
    try:
        return _Walker().walk(node, (), lines), lines
    except _Problem as problem:
        raise ConfigError(f"{path.name}:{problem.line}: {problem.message}") from None
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
