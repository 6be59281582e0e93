"""QA pass 8: model answers never seen before (other scripts, server shapes, pricing by the name a
server answers with), through the guard and the real client against the local fake server."""

from __future__ import annotations

import pytest

from chimera.llm.guard import check_numbers

KPIS = [{"as_of": "2026-11-26", "kpis": [
    {"id": "net_revenue", "unit": "currency", "status": "OK", "value": "10528.00", "note": "on target"},
    {"id": "conversion_rate", "unit": "percent", "status": "WARNING", "value": "0.01694", "note": "below target"}]}]


@pytest.mark.parametrize("text", [
    "純売上高は99,999ドルです。",  # Japanese: no space between a word and its number
    "净收入为99999美元。",  # Chinese
    "净收入为9.99万美元。",  # 99,900 in ten thousands
    "순매출은 99,999달러입니다.",  # Korean particles glue too
    "รายได้สุทธิ99,999ดอลลาร์",  # Thai writes no spaces at all
    "純売上高は$99,999です。",
    "コンバージョン率は1.8％です。",  # full-width percent sign
    "2026年11月27日の純売上高は10,528ドルです。",  # a day the outputs do not have
])
def test_an_invented_figure_glued_to_cjk_or_thai_words_is_caught(text: str) -> None:
    """Was ok=True: a CJK or Thai letter is a word character, so no figure was found at all."""
    assert not check_numbers(text, KPIS).ok


@pytest.mark.parametrize("text", [
    "純売上高は10,528ドルです。",
    "净收入为10528美元。",
    "净收入为1.05万美元。",  # 10,528 rounded in ten thousands
    "순매출은 10,528달러입니다.",
    "รายได้สุทธิ10,528ดอลลาร์",
    "コンバージョン率は1.69％です。",  # was refused: the full-width % was not read as a percent
    "2026年11月26日の純売上高は10,528ドルです。",
    "11月26日の純売上高は$10,528です。",
])
def test_an_honest_answer_in_cjk_or_thai_passes(text: str) -> None:
    assert check_numbers(text, KPIS).ok, check_numbers(text, KPIS).offending


def test_latin_text_keeps_its_glued_units() -> None:
    assert check_numbers("Net revenue was 10528USD, conversion 1.69%.", KPIS).ok
    assert not check_numbers("Net revenue was 99999USD.", KPIS).ok
