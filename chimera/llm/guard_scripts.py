"""Figures in languages that write no space between a word and a number (Chinese, Japanese, Thai; Korean
particles), made readable for the guard's English figure reader.

Why: the guard finds a figure between word bounds, and a CJK or Thai letter is a word character, so in
"純売上高は99,999ドルです" or "净收入为99999美元" no figure was found at all and any invented number
passed. A number (or its ``%``, ``$``, ``¥``) touching a letter of a non-Latin script is set apart by
spaces (a Latin letter stays glued: "98765USD", "28d" are read as they were). Then the forms those
languages write figures in are written the English way, so they are checked like any other:

- full-width ``％ ＄ ￥ ．，`` as ``% $ ¥ . ,`` ("1.69％"), and Arabic's ``٪ ٫ ٬`` ("١٫٦٩٪", "١٠٬٥٢٨");
- ``1.05万`` (ten thousands, 万 萬 만) and ``3.2億`` (hundred millions, 億 亿 억) as ``0.0105 million`` and
  ``0.32 billion``: the same value at the same precision (a rounded "1.05万" is 10,528 give or take 50);
- ``2026年11月26日`` / ``2026년 11월 26일`` as ``2026-11-26``, and ``11月26日`` as ``November 26``.

``regrouped`` joins thousands grouped in ways English never writes a decimal, so an honest answer is not
refused: Swiss apostrophes (``CHF 10'528.40``), Indian lakh groups (``₹1,05,280``), several dotted groups
(``1.234.567``), and one dotted group in euros, francs or crowns (``10.528 €``: no such amount has three
decimals; ``$3.459`` may, so a dollar's stays a decimal).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

__all__ = ["regrouped", "spaced_figures"]

# full-width signs (CJK), and Arabic's own thousands separator, decimal point and percent sign
_FULL_WIDTH = str.maketrans({"％": "%", "＄": "$", "￥": "¥", "．": ".", "，": ",", "٬": ",", "٫": ".", "٪": "%"})
_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"
# ten thousands -> millions (/100), hundred millions -> billions (/10)
_SCALES = {"万": (2, "million"), "萬": (2, "million"), "만": (2, "million"),
           "億": (1, "billion"), "亿": (1, "billion"), "억": (1, "billion")}
_SCALED = re.compile(rf"(?<![\d.,])({_NUMBER})\s?([{''.join(_SCALES)}])")
_FULL_DATE = re.compile(r"(?<!\d)(\d{4})\s?[年년]\s?(\d{1,2})\s?[月월]\s?(\d{1,2})\s?[日일]")
_MONTH_DAY = re.compile(r"(?<!\d)(\d{1,2})\s?[月월]\s?(\d{1,2})\s?[日일]")
# a number, its percent sign or its currency sign touching a letter
_TOUCH = re.compile(r"(?<=[^\W\d_])(?=[\d$€£¥])|(?<=[\d%])(?=[^\W\d_])")


def _latin(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("LATIN")


def _scaled(m: re.Match[str]) -> str:
    shift, word = _SCALES[m[2]]
    try:
        value = Decimal(m[1].replace(",", "")).scaleb(-shift)
    except InvalidOperation:
        return m[0]
    return f" {value:f} {word} "


def _full_date(m: re.Match[str]) -> str:
    try:
        return f" {dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()} "
    except ValueError:
        return m[0]


def _month_day(m: re.Match[str]) -> str:
    month, day = int(m[1]), int(m[2])
    return f" {calendar.month_name[month]} {day} " if 1 <= month <= 12 and 1 <= day <= 31 else m[0]


def spaced_figures(text: str) -> str:
    """``text`` with each number set apart from a non-Latin letter it touches, and CJK scales, dates and
    full-width signs written the English way (see the module's docstring)."""
    text = text.translate(_FULL_WIDTH)
    if all(ord(c) < 0x0370 for c in text):  # Latin text (the usual case) has nothing to set apart
        return text
    text = _FULL_DATE.sub(_full_date, text)
    text = _MONTH_DAY.sub(_month_day, text)
    text = _SCALED.sub(_scaled, text)

    def apart(m: re.Match[str]) -> str:
        at = m.start()
        letter = text[at] if text[at - 1] == "%" or text[at - 1].isdigit() else text[at - 1]
        return "" if _latin(letter) else " "

    return _TOUCH.sub(apart, text)


_APOSTROPHE_GROUPED = re.compile(r"(?<![\w.,'’])\d{1,3}(?:['’]\d{3})+(?![\w'’]|[.,]\d{3})")
_LAKH_GROUPED = re.compile(r"(?<![\w.,])\d{1,2}(?:,\d{2})+,\d{3}(?![\w,]|\.\d{3})")
_DOTS_GROUPED = re.compile(r"(?<![\w.,])\d{1,3}(?:\.\d{3}){2,}(?![\w.]|,\d{3})")
_DOTTED_CURRENCIES = "EUR|CHF|DKK|NOK|SEK|PLN|BRL|CZK|HUF|TRY|IDR"
_DOTTED_MONEY = re.compile(rf"(?:(?<=€)|(?<=€ )|(?<=\b(?:{_DOTTED_CURRENCIES}) )|(?<=\b(?:{_DOTTED_CURRENCIES})))"
                           r"\d{1,3}\.\d{3}(?![\w.,])"
                           rf"|(?<![\w.,$£¥])\d{{1,3}}\.\d{{3}}(?=\s?€|\s(?:{_DOTTED_CURRENCIES})\b)")


def _joined(m: re.Match[str]) -> str:
    return re.sub(r"['’,.]", "", m[0])


def regrouped(text: str) -> str:
    """``text`` with thousands grouped the Swiss, Indian or continental way joined (see the module's
    docstring); a group that could be English decimals stays as written."""
    for grouped in (_APOSTROPHE_GROUPED, _LAKH_GROUPED, _DOTS_GROUPED, _DOTTED_MONEY):
        text = grouped.sub(_joined, text)
    return text
