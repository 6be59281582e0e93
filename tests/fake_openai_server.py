"""A local fake OpenAI-compatible server, so the real ChatOpenAI client path is tested for real.

Tests push scripted steps; each POST /v1/chat/completions takes the next one (default: "ok"):
``{"text": ...}``, ``{"tool_calls": [{"name", "args": dict | raw str}]}`` (raw str = malformed JSON),
``{"status": 429 | 500, "retry_after": "0"}``, ``{"hang": seconds}`` (sleep past the client timeout),
``{"refusal": "I can't help"}`` (content null), any step with ``"finish_reason": "length"`` (cut off);
``{"no_usage": True}`` leaves the usage block out, as some local servers do; ``{"usage": {...}}`` sends
that usage block as is (nulls, extra fields); ``{"reasoning_content": ...}`` adds a reasoning model's
field; ``{"no_ids": True}`` sends tool calls without ids; ``{"raw": text, "content_type": ...}`` answers
that body as is (an SSE stream to a plain request, an HTML error page); ``{"drop": True}`` cuts the
connection mid-body; ``{"status": ..., "message": ..., "headers": {...}}`` shapes an error reply.
``stream: true`` requests get SSE chunks, tool arguments split into fragments. Requests are recorded.
Use: ``from tests.fake_openai_server import fake_openai_fixture, fake_openai_server_fixture  # noqa: F401``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse


class FakeOpenAI:
    """The script, the recorded requests and the base URL (``.../v1``) of one running server."""

    def __init__(self) -> None:
        self.steps: deque[dict[str, Any]] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.base_url = ""

    def push(self, *steps: dict[str, Any]) -> FakeOpenAI:
        self.steps.extend(steps)
        return self

    def reset(self) -> None:
        self.steps.clear()
        self.requests.clear()
        self.headers.clear()


def _tool_calls(step: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            **({} if step.get("no_ids") else {"id": f"call_{i}"}),
            "type": "function",
            "function": {
                "name": tc["name"],
                "arguments": tc["args"] if isinstance(tc["args"], str) else json.dumps(tc["args"]),
            },
        }
        for i, tc in enumerate(step.get("tool_calls", []))
    ]


def _usage(body: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    if "usage" in step:
        return step["usage"]
    prompt = len(json.dumps(body.get("messages", []))) // 4
    completion = max(1, len(json.dumps(step)) // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _finish(step: dict[str, Any]) -> str:
    return step.get("finish_reason") or ("tool_calls" if step.get("tool_calls") else "stop")


def _chunks(body: dict[str, Any], step: dict[str, Any]):
    base = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": body.get("model"),
    }

    def sse(delta: dict[str, Any], finish: str | None = None) -> str:
        return (
            "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"
        )

    yield sse({"role": "assistant", "content": ""})
    text = step.get("text") or ""
    for i in range(0, len(text), 7):
        yield sse({"content": text[i : i + 7]})
    for idx, tc in enumerate(_tool_calls(step)):
        yield sse(
            {
                "tool_calls": [
                    {
                        "index": idx,
                        "id": tc.get("id"),
                        "type": "function",
                        "function": {"name": tc["function"]["name"], "arguments": ""},
                    }
                ]
            }
        )
        args = tc["function"]["arguments"]
        for i in range(0, len(args), 5):
            yield sse({"tool_calls": [{"index": idx, "function": {"arguments": args[i : i + 5]}}]})
    yield sse({}, _finish(step))
    if (body.get("stream_options") or {}).get("include_usage") and not step.get("no_usage"):
        yield "data: " + json.dumps({**base, "choices": [], "usage": _usage(body, step)}) + "\n\n"
    yield "data: [DONE]\n\n"


async def _dropped():
    """Half a body, then the connection goes (a proxy or server that died mid-reply)."""
    yield b'{"id": "chatcmpl-fake", "choices": ['
    raise ConnectionResetError("fake server dropped the connection")


def make_app(state: FakeOpenAI) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request):
        body = await request.json()
        state.requests.append(body)
        state.headers.append(dict(request.headers))
        step = state.steps.popleft() if state.steps else {"text": "ok"}
        if "hang" in step:
            await asyncio.sleep(step["hang"])
        if "status" in step and "raw" not in step:
            headers = {"retry-after": str(step["retry_after"])} if "retry_after" in step else {}
            message = step.get("message", f"fake error {step['status']}")
            err = {"error": {"message": message, "type": "fake", "code": None}}
            return JSONResponse(err, status_code=step["status"], headers={**headers, **step.get("headers", {})})
        if "raw" in step:
            return Response(step["raw"], status_code=step.get("status", 200),
                            media_type=step.get("content_type", "application/json"))
        if step.get("drop"):
            return StreamingResponse(_dropped(), media_type="application/json")
        if body.get("stream"):
            return StreamingResponse(_chunks(body, step), media_type="text/event-stream")
        calls = _tool_calls(step)
        message = {
            "role": "assistant",
            "content": step.get("text"),
            **({"tool_calls": calls} if calls else {}),
            **({"refusal": step["refusal"]} if "refusal" in step else {}),
            **({"reasoning_content": step["reasoning_content"]} if "reasoning_content" in step else {}),
        }
        choice = {"index": 0, "message": message, "finish_reason": _finish(step)}
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model"),
            "choices": [choice],
            **({} if step.get("no_usage") else {"usage": _usage(body, step)}),
        }

    return app


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """``app`` on a free 127.0.0.1 port in a background thread; yields its ``/v1`` base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@pytest.fixture(scope="session", name="fake_openai_server")
def fake_openai_server_fixture():
    """One server per test session on a free 127.0.0.1 port, in a background thread."""
    state = FakeOpenAI()
    with serve(make_app(state)) as base_url:
        state.base_url = base_url
        yield state


@pytest.fixture(name="fake_openai")
def fake_openai_fixture(fake_openai_server: FakeOpenAI) -> FakeOpenAI:
    """The session's server with an empty script and no recorded requests."""
    fake_openai_server.reset()
    return fake_openai_server
