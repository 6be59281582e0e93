"""HTTP for API pulls: retries on 429 (honouring Retry-After) and 5xx, credentials never logged.

Credentials come from the environment variable named in ``client.yml`` (``connectors:``) or from
``settings.secrets_dir()/<client>.<VAR>``; they travel only in request headers, which nothing
here logs, and no error message repeats them: surrounding whitespace (a CRLF ``.env``) is stripped,
a key still holding control characters is refused without being shown, URLs in messages lose any
``user:pass@``, and as a last line of defence every message is redacted of every credential read
(``***``), whatever an exception's text says.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt

from chimera import settings
from chimera.config.client import looks_like_secret
from chimera.errors import IngestError

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
MAX_WAIT = 60.0
sleep: Callable[[float], None] = time.sleep  # tests record waits instead of sleeping
MASK = "***"
_CONTROL = re.compile(r"[\x00-\x20\x7f]")  # control characters and spaces: never inside a key
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]*@")
BOM = "\ufeff"
_SECRETS: set[str] = set()  # every credential value read in this process, for redact()


def remember_secret(value: str) -> None:
    """Have every later message redact ``value`` (and its trimmed form)."""
    for form in (value, value.strip()):
        if len(form) >= 4:  # a shorter "secret" would mask ordinary words
            _SECRETS.add(form)


def safe_url(url: object) -> str:
    """A URL as a message may show it: no ``user:pass@``."""
    return _USERINFO.sub(r"\1", str(url))


def redact(text: object) -> str:
    """``text`` without any credential read so far (``***``) and without userinfo in URLs."""
    out = str(text)
    for secret in sorted(_SECRETS, key=len, reverse=True):
        out = out.replace(secret, MASK)
        out = out.replace(repr(secret)[1:-1], MASK)  # as an escaped repr (b'Bearer sk_..\\r')
    return safe_url(out)


class _RedactingFilter(logging.Filter):
    """Log records of the HTTP libraries (httpcore traces quote failing header values) without any
    credential read and without userinfo in URLs."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = redact(text)
        if clean != text:
            record.msg, record.args = clean, ()
        return True


_FILTER = _RedactingFilter()
for _name in (__name__, "httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy"):
    logging.getLogger(_name).addFilter(_FILTER)


@contextmanager
def redacted_errors() -> Iterator[None]:
    """Errors leaving the block are IngestErrors whose text holds no credential and no userinfo."""
    try:
        yield
    except IngestError as exc:
        raise IngestError(redact(exc)) from None
    except httpx.HTTPError as exc:
        raise IngestError(f"API request failed ({type(exc).__name__}): {redact(exc)}") from None


class RetryableHTTP(Exception):
    """A 429 or 5xx answer, or JSON cut short: worth another try after ``wait`` seconds (None: back off)."""

    def __init__(self, status: int, wait: float | None, what: str = "") -> None:
        super().__init__(what or f"HTTP {status}")
        self.status = status
        self.wait = wait


BROKEN_JSON = "JSON that does not parse (cut short?)"


def credential(client: str, env_var: str, what: str) -> str:
    """The secret from ``$env_var`` or the client's secrets file, without surrounding whitespace;
    IngestError naming where to put it (never repeating a value)."""
    if looks_like_secret(env_var):  # client.yml refuses this; a caller passing a key gets no echo
        raise IngestError(f"{what}: the credential's variable name is not a variable name (a key pasted "
                          "in its place?): put the key in the environment and name the variable in client.yml")
    raw = os.environ.get(env_var)
    where = f"the environment variable {env_var}"
    path = settings.secrets_dir() / f"{client}.{env_var}"
    if not (raw or "").strip() and path.is_file():
        raw, where = _secrets_file(path, what), str(path)
    value = (raw or "").strip().removeprefix(BOM).strip()  # Notepad's byte-order mark is no part of the key
    for form in (raw, value):
        if form:
            remember_secret(form)
    if not value:
        raise IngestError(f"{what}: no credential: set the environment variable {env_var} or write it to {path}")
    if _CONTROL.search(value):
        raise IngestError(f"{what}: the credential in {where} holds spaces or control characters (a line "
                          "break from a Windows .env file?): write it again as one line")
    if not value.isascii():  # a header carries ASCII only: httpx ended the pull in a UnicodeEncodeError
        raise IngestError(f"{what}: the credential in {where} holds characters no key has (curly quotes or an "
                          "invisible character copied with it?): write it again as it is shown, plain text")
    return value


def _secrets_file(path: Path, what: str) -> str:
    """A secrets file's text as editors save it: UTF-8 (with or without a byte-order mark) or UTF-16
    with one (PowerShell's ``>``); IngestError naming the file otherwise, never a traceback."""
    data = path.read_bytes()
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise IngestError(f"{what}: {path} is not text (UTF-8): write the key to it again as plain text") from None


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait as the answer's Retry-After says (RFC 9110: seconds or an HTTP date), within
    0..MAX_WAIT; None (back off) when it says neither. A negative or `nan` value would make the
    sleep itself raise (ValueError), ending the pull with a traceback instead of a retry."""
    raw = (response.headers.get("Retry-After") or "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = _seconds_until(raw)
    if seconds is None or math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_WAIT)


def _seconds_until(http_date: str) -> float | None:
    """Seconds from now to an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`); None if it is not one."""
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return (when - datetime.now(UTC)).total_seconds()


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, RetryableHTTP) and exc.wait is not None:
        return exc.wait
    return min(0.5 * 2 ** (state.attempt_number - 1), 8.0)


def _before_sleep(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("API answered %s; retry %d of %d", redact(exc), state.attempt_number, MAX_ATTEMPTS - 1)


def _worth_retrying(exc: BaseException) -> bool:
    """429 / 5xx and a server that cannot be reached; not a request this side cannot even send."""
    if isinstance(exc, httpx.LocalProtocolError | httpx.UnsupportedProtocol | httpx.InvalidURL):
        return False
    return isinstance(exc, RetryableHTTP | httpx.TransportError)


def get_json(client: httpx.Client, url: str, params: dict[str, Any] | None = None
             ) -> tuple[dict[str, Any], httpx.Response]:
    """GET with retries on 429 / 5xx / connection errors; any other error status is an IngestError."""

    @retry(
        retry=retry_if_exception(_worth_retrying),
        stop=stop_after_attempt(MAX_ATTEMPTS),
        wait=_wait,
        sleep=lambda seconds: sleep(seconds),
        before_sleep=_before_sleep,
        reraise=True,
    )
    def _once() -> tuple[dict[str, Any], httpx.Response]:
        response = client.get(url, params=params)
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableHTTP(response.status_code, _retry_after(response))
        where = safe_url(response.request.url.copy_with(query=None))
        if response.status_code >= 400:
            raise IngestError(f"{where}: HTTP {response.status_code} (check the credential and the URL in client.yml "
                              "connectors)")
        if response.is_redirect:
            raise IngestError(f"{where}: HTTP {response.status_code}, redirected to "
                              f"{safe_url(response.headers.get('Location', '?'))}: not the API; check the URL in "
                              "client.yml connectors (a shop's https://<shop>.myshopify.com, not its own domain)")
        return _json_object(response, where), response

    shown = safe_url(url)
    try:
        return _once()
    except RetryableHTTP as exc:
        raise IngestError(f"{shown}: still {exc} after {MAX_ATTEMPTS} attempts; try again later") from None
    except (httpx.LocalProtocolError, httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise IngestError(f"{shown}: the request could not be sent ({type(exc).__name__}): check the credential "
                          "(one line, no spaces) and the URL in client.yml connectors") from None
    except httpx.TransportError as exc:
        raise IngestError(f"{shown}: cannot connect ({type(exc).__name__})") from None


def _json_object(response: httpx.Response, where: str) -> dict[str, Any]:
    """The answer's JSON object; IngestError when it is none (a login page, a proxy's HTML, a
    maintenance page answered 200), which would otherwise end the pull in a JSON traceback. An
    answer saying it is JSON that does not parse was cut short on the way (the APIs write valid
    JSON): retried (``RetryableHTTP``), not blamed on the URL."""
    kind = response.headers.get("Content-Type", "no content type").split(";")[0].strip()
    try:
        body = response.json()
    except ValueError:
        if kind.lower() == "application/json":
            raise RetryableHTTP(response.status_code, None, BROKEN_JSON) from None
        body = None
    if not isinstance(body, dict):
        raise IngestError(f"{where}: HTTP {response.status_code} answered {kind}, not the API's JSON object: check "
                          "the URL in client.yml connectors")
    return body


def listed(body: dict[str, Any], key: str, where: str) -> list[Any]:
    """The list under ``key`` of an API answer; IngestError when there is none: an answer of
    another endpoint read as "no orders" would store every day of the pull as zero."""
    items = body.get(key)
    if not isinstance(items, list):
        raise IngestError(f"{where}: the answer has no {key!r} list (keys: {', '.join(sorted(body)[:8]) or 'none'}): "
                          "not the expected API endpoint; check the URL in client.yml connectors")
    return items


class PageCursors:
    """The pages a pull has asked for: a cursor asked again (a next link to the same page, a
    ``starting_after`` that does not move) would loop forever, listing the same records again."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.seen: set[str] = set()

    def advance(self, cursor: str) -> None:
        """Record ``cursor``; IngestError when it was asked before."""
        if cursor in self.seen:
            raise IngestError(f"{self.where}: the API sent back a page it had already sent ({len(self.seen)} pages "
                              "read): the pull would never end; nothing stored, try again later")
        self.seen.add(cursor)
