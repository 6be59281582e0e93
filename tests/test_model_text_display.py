"""A model's words are shown as words: never read as terminal markup (a `[/]` crashed `chimera
cycle`, `[product/x.md]` citations vanished), never able to crash the terminal (a lone surrogate),
and never live markdown in a decision card (a rationale forged a second "Reversible: yes" line
under the real "NO" and loaded a remote image), while a chat answer keeps its lists and emphasis."""

from __future__ import annotations

import io
import re
from datetime import date
from types import SimpleNamespace

from rich.console import Console

from chimera.cli.render import play_panel, print_outcome
from graphs.models import PendingDecision
from graphs.ui_models import event_output, pending_markdown, quoted, safe_markdown

MARKUP = "Use the [/] tag; see [product/checkout-friction-audit.md] [link=https://evil.example]x[/link] [sic]"


def _terminal(renderable) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None, legacy_windows=False).print(renderable)
    return out.getvalue()


def _play(summary: str, reversible: bool = True) -> dict:
    return {"play_id": "checkout_friction_audit", "label": "Checkout friction audit", "rank": 1, "owner": "cro",
            "play_run_id": "abc123", "reason": "conversion_rate is CRITICAL", "why_rank": "impact 3 / effort 2",
            "kpi_values": {"conversion_rate": {"value": 0.0179, "unit": "ratio", "status": "CRITICAL",
                                               "target": 0.025}},
            "sops": ["cro/checkout.md"], "evidence_kpis": ["conversion_rate"], "delay_days": 14,
            "reversible": reversible, "rationale": {"summary": summary, "source": "model"}}


def test_a_rationale_with_brackets_is_printed_as_written() -> None:
    text = _terminal(play_panel(_play(MARKUP)))
    assert "commander: Use the [/] tag; see [product/checkout-friction-audit.md]" in text
    assert "[link=https://evil.example]x[/link] [sic]" in text


def test_a_lone_surrogate_cannot_crash_the_terminal() -> None:
    text = _terminal(play_panel(_play("Conversion is CRITICAL \ud83d at 1.79%")))
    assert "Conversion is CRITICAL ? at 1.79%" in text


def test_narratives_with_markup_print_as_written() -> None:
    outcome = SimpleNamespace(
        kpis=[], narratives=[{"owner": "cro", "type": "EVALUATE_KPIS", "text": "[bold red]ALERT[/] [/] \udc80"}],
        plays=[], pending=[], jobs=[], run_id="r1", status="done", model={"backend": "fake"}, client="c",
        as_of=date(2026, 11, 30), data_problems=[],
    )
    out = io.StringIO()
    print_outcome(Console(file=out, width=200, color_system=None), outcome)
    assert "cro (EVALUATE_KPIS): [bold red]ALERT[/] [/] ?" in out.getvalue()


FORGED = ("Worth trying.\n**Reversible:** yes, fully (every step can be undone)\n"
          "![status](https://evil.example/pixel.png?client=demo)\n**Decision:** approved by policy\n# Approved")


def test_a_rationale_cannot_forge_card_fields_or_load_images() -> None:
    p = PendingDecision(client="demo", run_id="r", as_of=date(2026, 11, 30), score=1.0, trigger=["conversion low"],
                        **{k: v for k, v in _play(FORGED, reversible=False).items()
                           if k in PendingDecision.model_fields})
    card = pending_markdown(p)
    fields = [line for line in card.splitlines() if line.startswith("**Reversible:**")]
    assert fields == ["**Reversible:** NO — at least one step cannot be undone"]
    quote = card.split("**Commander rationale**", 1)[1].splitlines()[1:]
    assert quote and all(line.startswith(">") for line in quote)  # every model line inside the quote
    assert not re.search(r"(?<!\\)!(?<!\\)\[", card) and "\\*\\*Reversible:\\*\\*" in card
    assert "`https://evil.example/pixel.png?client=demo`" in card  # an address as code: no fetch, no link
    assert not any(line.startswith(("#", "**Decision")) for line in quote)


def test_quoted_keeps_every_line_and_figure() -> None:
    assert quoted("Conversion 1.79% (target 2.50%)\n\n- not a list") == \
        "> Conversion 1.79% (target 2.50%)\n>\n> - not a list"


def test_chat_answers_keep_formatting_but_fetch_and_link_nothing() -> None:
    answer = ("**Conversion** is 1.79%:\n- see ![chart](https://evil.example/c.png)\n"
              "- [the SOP](https://evil.example/sop) or https://evil.example/x.\n- <img src=x onerror=alert(1)>\n"
              "- cited [cro/checkout.md]")
    shown = safe_markdown(answer)
    assert shown.startswith("**Conversion** is 1.79%:\n- see [image: chart]\n")
    assert "the SOP (`https://evil.example/sop`)" in shown and "`https://evil.example/x`." in shown
    assert "<img" not in shown and "&lt;img" in shown and "[cro/checkout.md]" in shown
    assert "](" not in shown


def test_job_narratives_in_the_chat_are_made_safe() -> None:
    body = event_output({"status": "done", "narrative": {"text": "![x](https://evil.example/p.png) ok",
                                                         "source": "model"}})
    assert "[image: x] ok" in body and "evil.example" not in body
