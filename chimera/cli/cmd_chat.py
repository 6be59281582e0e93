"""``chimera chat``: start the Chainlit command center on this CHIMERA_HOME."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import typer

from chimera import settings
from chimera.cli.app import app, out

APP_PATH = settings.PROJECT_ROOT / "app.py"


def auth_secret() -> str:
    """``CHAINLIT_AUTH_SECRET``, else one generated once and kept in ``$CHIMERA_HOME/.chimera/`` (mode 600)."""
    if os.environ.get("CHAINLIT_AUTH_SECRET"):
        return os.environ["CHAINLIT_AUTH_SECRET"]
    path = settings.home() / ".chimera" / "chainlit_auth_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()


def chat_command(host: str, port: int, headless: bool) -> list[str]:
    cmd = [sys.executable, "-m", "chainlit", "run", str(APP_PATH), "--host", host, "--port", str(port)]
    return [*cmd, "--headless"] if headless else cmd


@app.command()
def chat(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    headless: bool = typer.Option(False, "--headless", help="Do not open a browser."),
) -> None:
    """Open the command center (chat with the commanders, approve plays) in the browser."""
    from chimera.llm.provider import backend_info

    env = os.environ | {"CHAINLIT_AUTH_SECRET": auth_secret(), "CHIMERA_HOME": str(settings.home())}
    out.print(f"Command center on http://{host}:{port}  (model backend: {backend_info().label})")
    if not os.environ.get("CHIMERA_USERS"):
        out.print("[dim]log in with a user from `chimera user add NAME --role approver` "
                  "(or set CHIMERA_USERS=name:password:role for a trial)[/]")
    code = subprocess.call(chat_command(host, port, headless), cwd=settings.PROJECT_ROOT, env=env)
    raise typer.Exit(code)
