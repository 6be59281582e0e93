"""`chimera pull` and `chimera ingest --pull` against a scripted local HTTP server (127.0.0.1, free
port): a pull of the day still going on writes nothing, says so in a pull's words (no file) and
exits 1 from both commands alike; a rejected record is named (order name, charge id), without the
file line a pull has none of."""

from __future__ import annotations

import calendar
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chimera.cli import _register
from chimera.cli.app import app
from chimera.clients import add_client, get_client
from chimera.db.engine import session_scope
from chimera.metrics import load_series

COMMANDS = {"ingest": ["ingest", "--pull"], "pull": ["pull"]}


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, str]]]:
    """A local server answering each path prefix with the JSON body set for it."""
    bodies: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server calls it for a GET
            data = next(b for p, b in bodies.items() if self.path.startswith(p)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:  # quiet
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", bodies
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _client(name: str, base: str, monkeypatch: pytest.MonkeyPatch):
    ctx = add_client(name)
    yml = ctx.folder / "client.yml"
    yml.write_text(yml.read_text() + f"connectors:\n  shopify:\n    shop_url: {base}\n    token_env: QA9_SHOP\n"
                   f"  stripe:\n    api_base: {base}\n    key_env: QA9_STRIPE\n")
    monkeypatch.setenv("QA9_SHOP", "shpat_qa9")
    monkeypatch.setenv("QA9_STRIPE", "sk_test_qa9")
    return get_client(name)


def _charge(charge_id: str, created: datetime, amount: int = 1500) -> dict:
    return {"id": charge_id, "created": calendar.timegm(created.utctimetuple()), "amount": amount,
            "amount_refunded": 0, "currency": "usd", "captured": True, "status": "succeeded", "refunded": False,
            "balance_transaction": {"amount": amount, "currency": "usd", "fee": 74}}


def _order(name: str, created: datetime, total: str = "20.00") -> dict:
    return {"name": name, "email": "a@example.com", "created_at": created.isoformat(), "currency": "USD",
            "cancelled_at": None, "subtotal_price": total, "total_tax": "0.00", "total_price": total,
            "total_discounts": "0.00", "total_shipping_price_set": {"shop_money": {"amount": "0.00"}},
            "refunds": [], "line_items": [{"quantity": 1, "price": total}]}


def _run(args: list[str]):
    _register()
    return CliRunner().invoke(app, args)


def _series(ctx) -> dict:
    with session_scope() as s:
        return load_series(s, ctx.company_id)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("api", ["stripe", "shopify"])
def test_a_pull_of_only_today_writes_nothing_says_when_to_pull_and_exits_1(
        chimera_home: Path, server, monkeypatch: pytest.MonkeyPatch, command: str, api: str) -> None:
    """Today is left out of a pull (its records are listed only until now). `ingest --pull` said "the
    file holds only part of each of its days" (there is no file) and `pull` exited 0 on nothing
    written: both now exit 1 saying the day is still going on and when to pull it again."""
    base, bodies = server
    now = datetime.now(UTC)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    bodies["/v1/charges"] = json.dumps({"object": "list", "data": [_charge("ch_today", start)], "has_more": False})
    bodies["/admin/"] = json.dumps({"orders": [_order("#1001", start)]})
    ctx = _client("today", base, monkeypatch)
    today = now.date().isoformat()
    result = _run([*COMMANDS[command], api, "--client", "today", "--since", today, "--until", today, "--json"])
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["metrics_written"] == 0 and [d["day"] for d in document["left_out"]] == [today]
    said = result.stderr
    assert "the file" not in said and "nothing written: every day pulled was still going on" in said
    assert today in said
    assert ("after midnight UTC" if api == "stripe" else "after the store's midnight") in said
    assert _series(ctx) == {}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_pull_writing_yesterday_and_leaving_out_today_exits_0(chimera_home: Path, server,
                                                               monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """Only a pull that writes nothing fails: yesterday written, today left out (and said) is a success."""
    base, bodies = server
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=1)
    bodies["/v1/charges"] = json.dumps({"object": "list", "data": [_charge("ch_y", yesterday)], "has_more": False})
    ctx = _client("both", base, monkeypatch)
    result = _run([*COMMANDS[command], "stripe", "--client", "both", "--since", yesterday.date().isoformat()])
    assert result.exit_code == 0, result.output
    assert f"left out {now.date()}" in result.stdout
    assert _series(ctx)["stripe_gross"] == {yesterday.date(): 15}



@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_rejected_pulled_order_is_named_without_a_line(chimera_home: Path, server,
                                                         monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """An order whose total is no number: the JSON said `"line": 0` (a pull has no file line); now
    `null`, the order named; the text table shows no line column, the order by its name."""
    base, bodies = server
    day = (datetime.now(UTC) - timedelta(days=2)).replace(hour=12)
    bodies["/admin/"] = json.dumps({"orders": [_order("#1001", day), _order("#1002", day, total="abc")]})
    _client("rej", base, monkeypatch)
    args = [*COMMANDS[command], "shopify", "--client", "rej", "--since", str(day.date()), "--until", str(day.date())]
    result = _run([*args, "--json"])
    assert result.exit_code == 0, result.output
    rejected = json.loads(result.stdout)["rejected"]
    assert rejected and {(r["line"], r["order"]) for r in rejected} == {(None, "#1002")}
    assert {r["column"] for r in rejected} >= {"Total"}
    text = _run(args)
    assert text.exit_code == 0, text.output
    table = text.stdout[text.stdout.index("rejected (the whole order is left out)"):]
    header = table.splitlines()[2]
    assert "line" not in header and "order" in header and "#1002" in table and " 0 " not in table


def test_a_pull_whose_every_order_is_rejected_names_the_api_not_a_spreadsheet(
        chimera_home: Path, server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every record refused: exit 1 from both commands, in a pull's words (no export to save again)."""
    base, bodies = server
    day = (datetime.now(UTC) - timedelta(days=2)).replace(hour=12)
    bodies["/admin/"] = json.dumps({"orders": [_order("#1002", day, total="abc")]})
    _client("all", base, monkeypatch)
    for args in COMMANDS.values():
        result = _run([*args, "shopify", "--client", "all", "--since", str(day.date()), "--until", str(day.date())])
        assert result.exit_code == 1, result.output
        assert "every order the shopify API listed was rejected" in result.stderr
        assert "spreadsheet" not in result.stderr


def test_a_pulled_day_left_out_for_another_reason_is_not_called_unfinished(capsys) -> None:
    """Only days left out as not over get "still going on"; any other reason is quoted, never "the file"."""
    import typer

    from chimera.cli.cmd_ingest import _fail_if_only_partial_days
    from chimera.ingest.models import IngestSummary, LeftOutDay

    summary = IngestSummary(source="stripe_payments", rows_read=1, orders_ingested=1, rejected=[], first_day=None,
                            last_day=None, metrics_written=0,
                            left_out=[LeftOutDay(day=datetime(2026, 3, 5).date(), reason="some other reason")])
    with pytest.raises(typer.Exit):
        _fail_if_only_partial_days(summary, "stripe")
    said = capsys.readouterr().err
    assert "every day pulled was left out (2026-03-05): some other reason" in said
    assert "still going on" not in said and "the file" not in said
