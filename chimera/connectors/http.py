"""HTTP for API pulls: retries on 429 (honouring Retry-After) and 5xx, credentials never logged.

Credentials come from the environment variable named in ``client.yml`` (``connectors:``) or from
``settings.secrets_dir()/<client>.<VAR>``; they travel only in request headers, which nothing
here logs, and no error message repeats them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import RetryCallState, retry, retry_if_exception_type, stop_after_attempt

from chimera import settings
from chimera.errors import IngestError

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
MAX_WAIT = 60.0
sleep: Callable[[float], None] = time.sleep  # tests record waits instead of sleeping


class RetryableHTTP(Exception):
    """A 429 or 5xx answer: worth another try after ``wait`` seconds (None: back off)."""

    def __init__(self, status: int, wait: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.wait = wait


def credential(client: str, env_var: str, what: str) -> str:
    """The secret from ``$env_var`` or the client's secrets file; IngestError naming where to put it."""
    value = os.environ.get(env_var)
    path = settings.secrets_dir() / f"{client}.{env_var}"
    if not value and path.is_file():
        value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise IngestError(f"{what}: no credential: set the environment variable {env_var} or write it to {path}")
    return value


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return min(float(raw), MAX_WAIT) if raw is not None else None
    except ValueError:
        return None


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, RetryableHTTP) and exc.wait is not None:
        return exc.wait
    return min(0.5 * 2 ** (state.attempt_number - 1), 8.0)


def _before_sleep(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("API answered %s; retry %d of %d", exc, state.attempt_number, MAX_ATTEMPTS - 1)


def get_json(client: httpx.Client, url: str, params: dict[str, Any] | None = None) -> tuple[Any, httpx.Response]:
    """GET with retries on 429 / 5xx / connection errors; any other error status is an IngestError."""

    @retry(
        retry=retry_if_exception_type((RetryableHTTP, httpx.TransportError)),
        stop=stop_after_attempt(MAX_ATTEMPTS),
        wait=_wait,
        sleep=lambda seconds: sleep(seconds),
        before_sleep=_before_sleep,
        reraise=True,
    )
    def _once() -> tuple[Any, httpx.Response]:
        response = client.get(url, params=params)
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableHTTP(response.status_code, _retry_after(response))
        if response.status_code >= 400:
            raise IngestError(f"{response.request.url.copy_with(query=None)}: HTTP {response.status_code} "
                              f"(check the credential and the URL in client.yml connectors)")
        return response.json(), response

    try:
        return _once()
    except RetryableHTTP as exc:
        raise IngestError(f"{url}: still {exc} after {MAX_ATTEMPTS} attempts; try again later") from None
    except httpx.TransportError as exc:
        raise IngestError(f"{url}: cannot connect ({type(exc).__name__})") from None
