"""Money in the client's currency only: "£16,017.93" said of a dollar store is a wrong figure.

The tool outputs carry the client's ISO 4217 code (a ``currency`` key, as ``kpi_statuses`` gives it
on money KPIs). An amount written with a sign or code of another currency is refused, whatever its
digits: the number may be sourced, its unit is not. ``$`` is every dollar's (and peso's) sign, so it
passes for USD, CAD or MXN alike, and a prefixed one (``US$``, ``C$``) only for its own currency; an
amount with no mark always passes (the unit is then the outputs'), as does any mark when the outputs
name no currency (nothing to judge by).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

# currencies written with a bare "$" (dollars and pesos)
_DOLLAR_LIKE = frozenset("USD CAD AUD NZD SGD HKD TWD MXN ARS CLP COP UYU BSD BBD BMD BZD BND FJD GYD JMD KYD LRD "
                         "NAD SBD SRD TTD XCD ZWL CVE DOP CUP".split())
_POUND_LIKE = frozenset("GBP GIP FKP SHP JEP GGP IMP EGP SYP LBP SSP".split())
# a sign, a prefixed sign or a word for money, and the currencies it may name
_MARKS: dict[str, frozenset[str]] = {
    "$": _DOLLAR_LIKE, "US$": frozenset({"USD"}), "U.S.$": frozenset({"USD"}), "C$": frozenset({"CAD", "NIO"}),
    "CA$": frozenset({"CAD"}), "CAN$": frozenset({"CAD"}), "A$": frozenset({"AUD"}), "AU$": frozenset({"AUD"}),
    "NZ$": frozenset({"NZD"}), "S$": frozenset({"SGD"}), "SG$": frozenset({"SGD"}), "HK$": frozenset({"HKD"}),
    "MX$": frozenset({"MXN"}), "NT$": frozenset({"TWD"}), "R$": frozenset({"BRL"}),
    "€": frozenset({"EUR"}), "£": _POUND_LIKE, "¥": frozenset({"JPY", "CNY"}), "￥": frozenset({"JPY", "CNY"}),
    "₹": frozenset({"INR"}), "₩": frozenset({"KRW"}), "₽": frozenset({"RUB"}), "₺": frozenset({"TRY"}),
    "₪": frozenset({"ILS"}), "₫": frozenset({"VND"}), "₱": frozenset({"PHP"}), "₦": frozenset({"NGN"}),
    "₴": frozenset({"UAH"}), "฿": frozenset({"THB"}),
    "dollar": _DOLLAR_LIKE, "euro": frozenset({"EUR"}), "yen": frozenset({"JPY"}),
    "yuan": frozenset({"CNY"}), "rupee": frozenset({"INR", "PKR", "LKR", "NPR"}),
}
# ISO codes people write beside amounts; words a sentence may capitalise (ALL, TOP, TRY, PEN) are left out
_CODES = ("USD EUR GBP JPY CNY RMB CAD AUD NZD CHF SEK NOK DKK ISK PLN CZK HUF RON BGN INR PKR MXN BRL ARS CLP COP "
          "ZAR SGD HKD TWD KRW THB IDR MYR VND AED SAR QAR KWD BHD OMR JOD ILS EGP NGN KES UAH RUB").split()
_CODE_OF = {"RMB": "CNY"}
_SIGN = r"(?:US|U\.S\.|CAN|CA|AU|NZ|SG|HK|MX|NT|A|C|S|R)?\$|[€£¥￥₹₩₽₺₪₫₱₦₴฿]"
_CODE = rf"\b(?:{'|'.join(_CODES)})"
_DIGITS = r"\d(?:[\d,.\u00a0\u202f']*\d)?"
_SCALE = r"(?:\s?(?:k|K|M|bn|mn|m|thousand|million|billion)\b)?"
# "pounds" alone may be a weight: only the sign or the code says sterling
_WORD = r"(?i:dollars?|euros?|yen|yuan|rupees?)\b"
AMOUNT = re.compile(
    rf"(?P<before>{_SIGN}|{_CODE})\s?[-−–]?{_DIGITS}{_SCALE}"
    rf"|(?<![\w.,])[-−–]?{_DIGITS}{_SCALE}\s?(?P<after>[€£¥￥₹₩₽₺₪₫₱₦₴฿$](?!\w)|{_CODE}\b|{_WORD})")


def _codes(obj: Any, found: set[str]) -> set[str]:
    """The ISO codes under a ``currency`` key anywhere in ``obj`` (JSON-like tool outputs)."""
    if isinstance(obj, BaseModel):
        return _codes(obj.model_dump(mode="json"), found)
    if isinstance(obj, dict):
        for key, value in obj.items():
            if str(key).lower() in ("currency", "currency_code") and isinstance(value, str) \
                    and re.fullmatch(r"[A-Za-z]{3}", value.strip()):
                found.add(value.strip().upper())
            else:
                _codes(value, found)
    elif isinstance(obj, list | tuple | set | frozenset):
        for value in obj:
            _codes(value, found)
    elif isinstance(obj, str) and obj.lstrip()[:1] in "[{":
        try:
            _codes(json.loads(obj), found)
        except ValueError:
            pass
    elif hasattr(obj, "content"):  # a ToolMessage
        _codes(obj.content, found)
    return found


def client_currencies(tool_outputs: Iterable[Any]) -> set[str]:
    """The currencies the tool outputs say money is in (usually one: the client's)."""
    found: set[str] = set()
    for out in tool_outputs:
        _codes(out, found)
    return found


def _named(mark: str) -> frozenset[str]:
    """The currencies a mark as written may name ("$": any dollar, "EUR": the euro, "yen": the yen)."""
    if mark in _MARKS:
        return _MARKS[mark]
    word = mark.lower().removesuffix("s")
    if word in _MARKS:
        return _MARKS[word]
    return frozenset({_CODE_OF.get(mark.upper(), mark.upper())})


def currency_problems(text: str, tool_outputs: Iterable[Any]) -> list[str]:
    """Each amount of ``text`` written in a currency the outputs' money is not in, as the guard
    refuses it (the amount as written and why); none when the outputs name no currency."""
    ours = client_currencies(tool_outputs)
    if not ours:
        return []
    problems = []
    for m in AMOUNT.finditer(text):
        mark = m["before"] or m["after"]
        if _named(mark) & ours:
            continue
        problems.append(f"{m.group(0).strip()} (the tool outputs' money is in {', '.join(sorted(ours))}, "
                        f"not {mark.strip()})")
    return problems
