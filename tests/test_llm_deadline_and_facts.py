"""CHIMERA_LLM_TIMEOUT is a deadline, not a per-byte timeout (QA F9); the guard checks a narrative
against exactly the facts the prompt carried (F7); SOP text informs a model but never vouches for a
figure (F5). The deadline tests trickle bytes from a local server that the test starts itself."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from langchain_core.messages import AIMessage, HumanMessage

from agents.llm_commander import ask_commander, model_narrative, play_rationale, without_sop_text
from chimera.llm import ModelUnavailable, ainvoke_with_retries, get_chat_model, guarded_narrative
from chimera.llm.fake import ScriptedChatModel
from chimera.llm.usage import UsageTracker
from tests.fake_openai_server import serve

ASK = [HumanMessage(content="How did the week go?")]
TRICKLE_S = 30.0  # how long the server would keep a reply going: far beyond every deadline below
DEADLINE_S = 1.0


# -- a server that trickles: one byte (or one SSE keep-alive comment) at a time ----------------------


def _body(text: str) -> bytes:
    message = {"role": "assistant", "content": text}
    return json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                       "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}).encode()


def _sse(text: str) -> list[bytes]:
    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(chunk)}\n\n".encode()

    return [event({"role": "assistant", "content": text}), event({}, "stop"), b"data: [DONE]\n\n"]


def _app(script: deque[dict[str, Any]], requests: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> StreamingResponse:
        body = await request.json()
        requests.append(body)
        step = script.popleft() if script else {"text": "ok", "trickle": 0.0}
        streaming = bool(body.get("stream"))

        async def trickle():
            end = time.monotonic() + step["trickle"]
            while time.monotonic() < end:  # whitespace before JSON, or SSE comments: both are valid
                yield b": keep-alive\n\n" if streaming else b" "
                await asyncio.sleep(0.1)
            for part in _sse(step["text"]) if streaming else [_body(step["text"])]:
                yield part

        return StreamingResponse(trickle(), media_type="text/event-stream" if streaming else "application/json")

    return app


@pytest.fixture(scope="module")
def trickler() -> Iterator[SimpleNamespace]:
    state = SimpleNamespace(script=deque(), requests=[], base_url="")
    with serve(_app(state.script, state.requests)) as base_url:
        state.base_url = base_url
        yield state


@pytest.fixture(params=["plain", "streaming"])
def slow(request: pytest.FixtureRequest, trickler: SimpleNamespace, monkeypatch: pytest.MonkeyPatch):
    trickler.script.clear()
    trickler.requests.clear()
    monkeypatch.setenv("CHIMERA_LLM", "openai-compatible")
    monkeypatch.setenv("OPENAI_BASE_URL", trickler.base_url)
    monkeypatch.setenv("CHIMERA_MODEL", "trickle-model")
    monkeypatch.setenv("CHIMERA_LLM_TIMEOUT", str(DEADLINE_S))
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF", "0")
    monkeypatch.setenv("CHIMERA_LLM_BACKOFF_MAX", "0.01")
    trickler.streaming = request.param == "streaming"
    if trickler.streaming:
        monkeypatch.setenv("CHIMERA_LLM_STREAMING", "1")
    return trickler


def test_a_trickling_server_is_abandoned_at_the_deadline_with_the_offline_text(slow: SimpleNamespace) -> None:
    slow.script.extend([{"text": "Revenue held.", "trickle": TRICKLE_S}, {"text": "Revenue held."}])
    started = time.monotonic()
    story = guarded_narrative(get_chat_model(), ASK, [], "The offline text.")
    elapsed = time.monotonic() - started
    assert (story.source, story.text) == ("offline", "The offline text.")
    assert story.reason == ("model did not answer in time: reply not complete within the 1 s deadline "
                            "(CHIMERA_LLM_TIMEOUT); not asked again (it would wait as long; CHIMERA_LLM_TIMEOUT "
                            "sets the wait)")
    assert len(slow.requests) == 1, "an overrun is not asked again: the same request would trickle as long"
    assert elapsed < TRICKLE_S / 2, f"held {elapsed:.1f} s: the trickle, not the deadline, decided"
    assert bool(slow.requests[-1].get("stream")) == slow.streaming


def test_a_reply_that_trickles_but_ends_in_time_is_still_shown(slow: SimpleNamespace) -> None:
    slow.script.append({"text": "Revenue held steady.", "trickle": 0.3})
    story = guarded_narrative(get_chat_model(), ASK, [], "The offline text.")
    assert (story.source, story.text) == ("model", "Revenue held steady.")
    assert len(slow.requests) == 1


def test_async_calls_keep_the_deadline_too(slow: SimpleNamespace) -> None:
    slow.script.extend([{"text": "late", "trickle": TRICKLE_S}, {"text": "late"}])
    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match="within the 1 s deadline") as raised:
        asyncio.run(ainvoke_with_retries(get_chat_model(), ASK, attempts=2))
    assert time.monotonic() - started < TRICKLE_S / 2
    assert len(slow.requests) == 1 and raised.value.ends_cycle_use


# -- F7: the guard reads what the prompt carried ------------------------------------------------------


KPI_RESULT = {"kpis": [{
    "id": "net_revenue", "label": "Net revenue (weekly)", "unit": "currency", "status": "OK",
    "value": "18220.33", "target": "5000", "previous_value": "17849.46",
    "note": "net_revenue 18,220.33 over 7d to 2026-11-29, at or above target 5,000.00",
    "anomaly": {"baseline": "21161.43", "weeks": 4, "sd_score": "-0.96", "change_pct": "-13.90"},
}]}


def _commander() -> SimpleNamespace:
    spec = SimpleNamespace(id="evidence_commander_ai", label="Evidence", role="reads the evidence",
                           values=["truth over narrative"], libraries=[], model=None)
    return SimpleNamespace(id=spec.id, spec=spec)


def _ctx() -> SimpleNamespace:
    return SimpleNamespace(client=SimpleNamespace(name="demo"), run_id="run-1",
                           cache={"usage": UsageTracker("fake")})


def _scripted(monkeypatch: pytest.MonkeyPatch, *texts: str) -> ScriptedChatModel:
    model = ScriptedChatModel(responses=[AIMessage(content=t) for t in texts])
    monkeypatch.setattr("agents.llm_commander.get_chat_model", lambda *a, **k: model)
    return model


@pytest.mark.parametrize(("text", "shown"), [
    ("Net revenue was $18,220.33 this week, above the $5,000 target.", True),
    ("Net revenue was $17,849.46 this week.", False),  # last week's value: not in the prompt
    ("Net revenue is $21,161.43, as usual.", False),  # the hidden anomaly baseline
])
def test_a_kpi_narrative_is_checked_against_the_compact_facts_it_was_given(
        monkeypatch: pytest.MonkeyPatch, text: str, shown: bool) -> None:
    model = _scripted(monkeypatch, text)
    story = model_narrative(_commander(), _ctx(), SimpleNamespace(type="EVALUATE_KPIS"), KPI_RESULT, "offline")
    assert story is not None and (story.source == "model") is shown, story.note
    prompt = model.requests[0][-1].content
    assert "18220.33" in prompt and "17849.46" not in prompt and "21161.43" not in prompt


# -- F5: SOP text informs, never vouches ---------------------------------------------------------------


INJECTED = {"file": "product/product-page-refresh-results.md", "title": "Product page refresh results",
            "heading": "Results", "line": 3,
            "excerpt": "Conversion rate this week is 4.75% and net revenue is $99,999."}
EXPLANATION = {"play_id": "product_page_refresh", "label": "Product page refresh", "reason": "conversion is low",
               "trigger": ["conversion_rate below 2.20%"], "kpi_values": {"conversion_rate": "0.017947"},
               "sops": ["product/product-page-refresh-results.md"]}


def _rationale(summary: str, sops: list[str]) -> str:
    return json.dumps({"summary": summary, "why": "", "metrics_cited": ["conversion_rate"], "sops_cited": sops,
                       "caveats": []})


def test_figures_from_an_sop_cannot_source_a_rationale(monkeypatch: pytest.MonkeyPatch) -> None:
    invented = _rationale("Conversion rate is 4.75% this week and net revenue is $99,999.", [])
    model = _scripted(monkeypatch, invented, invented)
    rationale = play_rationale(_commander(), _ctx(), EXPLANATION, [INJECTED])
    assert rationale.source == "offline" and "4.75%" in rationale.note
    assert "4.75%" not in rationale.summary
    prompt = model.requests[0][-1].content
    assert "4.75%" in prompt, "the model still reads the SOP; only the guard refuses its figures"


def test_a_rationale_citing_sop_guidance_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    cited = _rationale("Conversion is 1.79%, below the 2.20% trigger; the Product page refresh results SOP "
                       "describes what to change.", [INJECTED["file"]])
    _scripted(monkeypatch, cited)
    rationale = play_rationale(_commander(), _ctx(), EXPLANATION, [INJECTED])
    assert rationale.source == "model", rationale.note
    assert rationale.sops_cited == [INJECTED["file"]]


def test_a_chat_answer_cannot_take_its_figures_from_an_sop(monkeypatch: pytest.MonkeyPatch) -> None:
    model = ScriptedChatModel(responses=[AIMessage(content="Net revenue is $99,999 this week.")] * 2)
    toolbox = SimpleNamespace(as_tools=lambda: [], client=SimpleNamespace(name="demo"))
    facts = [{"kpis": KPI_RESULT["kpis"], "sops": [INJECTED]}]
    answer = ask_commander(_commander().spec, toolbox, "Revenue?", "offline", model=model, facts=facts)
    assert answer.source == "offline" and answer.guard_rejections == 2


def test_without_sop_text_keeps_where_to_cite() -> None:
    assert without_sop_text({"sops": [INJECTED], "n": 3}) == {
        "sops": [{"file": INJECTED["file"], "title": INJECTED["title"]}], "n": 3}
