"""Clients (manual §10): a config set copied from the base, plus a Company row.

Every per-client operation starts from ``get_client`` so that no command reads another client's
data by accident: the returned ``ClientContext`` carries the one ``company_id`` queries filter on.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from sqlmodel import Session, select

from chimera import settings
from chimera.config.client import ClientConfig
from chimera.config.loader import FILES, ConfigSet, load_config_set, problems_of, suggest
from chimera.config.yamlload import line_of, load_yaml
from chimera.db.engine import session_scope
from chimera.db.models import Company
from chimera.errors import ClientError, ConfigError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class ClientContext:
    """One client: its database id, its folder and its validated configs."""

    name: str
    company_id: int
    folder: Path
    config: ClientConfig
    configs: ConfigSet


def load_client_config(folder: Path, name: str) -> ClientConfig:
    """Client ``name``'s client.yml (its folder's), validated. Problems say ``client.yml:LINE``, as
    those of the folder's other config files do (the folder is the client's, named by the command).
    Its ``name:`` must be the client's: one naming another client is most likely that client's file
    copied and not edited (its currency, timezone and sources are the other's), so it is refused
    rather than used under a name the file does not give."""
    path = folder / "client.yml"
    if not path.exists():
        return ClientConfig(name=name)
    data, lines = load_yaml(path)
    try:
        config = ClientConfig.model_validate(data or {"name": name})
    except ValidationError as exc:
        raise ConfigError(problems_of(ClientConfig, exc, lines, path.name)) from None
    if config.name != name:
        raise ConfigError(f"{path.name}:{line_of(lines, ('name',))}: name: {config.name!r} is not this client's "
                          f"name {name!r}: write name: {name} (a file copied from client {config.name}? check its "
                          "other fields too)")
    return config


def client_yml_problems(folder: Path, name: str) -> list[str]:
    """What ``load_client_config`` refuses in client ``name``'s client.yml (none: []), for ``chimera
    config check --client``, which must not say OK to a file every other command refuses."""
    try:
        load_client_config(folder, name)
    except ConfigError as exc:
        return exc.problems
    return []


def add_client(name: str, label: str = "", session: Session | None = None) -> ClientContext:
    """Copy the base configs to the client's folder and create its Company (refuses duplicates).

    A folder already there (configs kept in git, or copied from another client) keeps its files and
    must load: else nothing is created (no Company, none of the files this call added), and the
    problems say what to fix before running ``client add`` again. It used to create the Company and
    then fail on the folder's client.yml: an error, yet the client existed and a re-run said so."""
    if not NAME_RE.match(name):
        raise ClientError(f"client name {name!r}: use lower-case letters, digits, '-' or '_'")
    folder = settings.client_dir(name)
    with session_scope() as s:
        if s.exec(select(Company).where(Company.name == name)).first():
            raise ClientError(f"client {name!r} already exists (chimera client list)")
        added = _write_configs(folder, name, label)
        try:
            config, configs = load_client_config(folder, name), load_config_set(folder)
        except ConfigError as exc:
            kept = not added or added[0] != folder
            _remove(added)
            where = f"{folder} already held these files" if kept else f"the base configs in {settings.BASE_CONFIG_DIR}"
            raise ConfigError([*exc.problems, f"client {name!r} not created: {where} do not load; fix them, then run "
                                              f"chimera client add {name} again"]) from None
        company = Company(name=name)
        s.add(company)
        s.flush()
        assert company.id is not None
        return ClientContext(name=name, company_id=company.id, folder=folder, config=config, configs=configs)


def _write_configs(folder: Path, name: str, label: str) -> list[Path]:
    """The base configs, schema link and a client.yml, each only where the folder lacks it; the
    paths created (the folder first when it is new), for undoing them."""
    added = [] if folder.exists() else [folder]
    folder.mkdir(parents=True, exist_ok=True)
    for fname in [*FILES.values(), "CHANGELOG.md"]:
        src = settings.BASE_CONFIG_DIR / fname
        if src.exists() and not (folder / fname).exists():
            shutil.copy2(src, folder / fname)
            added.append(folder / fname)
    if _link_schemas(folder):
        added.append(folder / "schema")
    if not (folder / "client.yml").exists():
        (folder / "client.yml").write_text(
            "# yaml-language-server: $schema=schema/client.schema.json\n"
            f"# Where {name}'s data comes from.\n"
            f"name: {name}\nlabel: {label or name}\ncurrency: USD\nsources: []\n",
            encoding="utf-8",
        )
        added.append(folder / "client.yml")
    return added


def _remove(paths: list[Path]) -> None:
    """Undo ``_write_configs``: its files and link, then the folder if it made it (newest first)."""
    for path in reversed(paths):
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)


def _link_schemas(folder: Path) -> bool:
    """``schema/`` beside a client's copies, linked to the base schemas: the copies' modelines say
    `$schema=schema/kpis.schema.json`, relative to their own folder, so editors keep completion and
    checks (the copies stay byte-identical to the base, as their CHANGELOG hashes say). A copy
    where links are not allowed. Whether it made one."""
    link, base = folder / "schema", settings.BASE_CONFIG_DIR / "schema"
    if link.exists() or link.is_symlink() or not base.is_dir():
        return False
    try:
        link.symlink_to(base, target_is_directory=True)
    except OSError:
        shutil.copytree(base, link)
    return True


def list_clients() -> list[str]:
    with session_scope() as s:
        return [c.name for c in s.exec(select(Company).order_by(Company.name))]


def unknown_client(name: str, names: list[str]) -> str:
    """Why ``name`` is no client, and what to do: a close name alone when there is one ('chimera
    client add Acme' beside 'did you mean acme?' sent a typo to be created, and add refuses upper
    case), else how to list the clients and, for a name a client can have, how to add it."""
    hint = suggest(name, names)
    if hint:
        return f"unknown client {name!r}{hint}"
    add = f"; chimera client add {name} creates it" if NAME_RE.match(name) else ""
    return f"unknown client {name!r} (chimera client list{add})"


def get_client(name: str, allowed: list[str] | None = None) -> ClientContext:
    """The client called ``name``; ``allowed`` restricts which clients the caller may see."""
    if allowed is not None and name not in allowed:
        raise ClientError(f"client {name!r} is not granted to this user")
    with session_scope() as s:
        company = s.exec(select(Company).where(Company.name == name)).first()
        if company is None:
            names = [c.name for c in s.exec(select(Company))]
            raise ClientError(unknown_client(name, names))
        company_id = company.id
    folder = settings.client_dir(name)
    if not folder.is_dir():
        raise ClientError(f"client {name!r} has no config folder at {folder}")
    assert company_id is not None
    return ClientContext(
        name=name,
        company_id=company_id,
        folder=folder,
        config=load_client_config(folder, name),
        configs=load_config_set(folder),
    )
