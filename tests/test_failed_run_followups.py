"""Follow-ups of a play step that fails for good (its later steps skipped, the run ``failed``, what
it applied measured): the pause and resume list the skipped steps, a report of an older day reads
``failed``, the weekly review says which step failed and what to do, a revert reports the undo as
recorded, the worker stops on a SQLite outage; and the undo of a price table written before the
OWASP escaping comes back escaped."""

from __future__ import annotations

import csv
import io

from chimera.changesets import Asset, Change, ChangeSet, inverse
from chimera.sheet import FORMULA_STARTS, NUMBER, read_cell

OLD_TABLE = ("sku,name,price_before,price_after,units_sold\n"
             "-5,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"Click\"\")\",10.00,11.00,3\n"
             "A-1,@SUM(1+1),-2.00,-1.00,-4\n")
"""A price table as the bot wrote it before it escaped formula starts (a hostile name, a SKU ``-5``)."""


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_undo_of_a_table_written_before_the_escaping_is_escaped_and_keeps_its_numbers() -> None:
    cs = ChangeSet(bot="shopify_bot", action="update_prices", summary="s",
                   changes=[Change(target="product:A-1", field="price", before="-2.00", after="-1.00")],
                   asset=Asset(filename="p-price-table.csv", content=OLD_TABLE))
    undo = inverse(cs, "job:1")
    header, *rows = _rows(undo.asset.content)
    assert header == ["sku", "name", "price_before", "price_after", "units_sold"]
    assert rows == [["-5", "'=HYPERLINK(\"http://evil.example\",\"Click\")", "11.00", "10.00", "3"],
                    ["A-1", "'@SUM(1+1)", "-1.00", "-2.00", "-4"]]  # numbers (negative too) stay numbers
    assert all(NUMBER.fullmatch(c) or not c.startswith(FORMULA_STARTS) for r in rows for c in r)
    again = inverse(undo, "revert:job:1")
    assert _rows(again.asset.content)[1:] == [[r[0], r[1], r[3], r[2], r[4]] for r in rows]
    assert inverse(again, "revert:revert:job:1").asset == undo.asset  # once escaped, byte for byte


def test_read_cell_keeps_what_csv_text_wrote_and_escapes_the_rest() -> None:
    from agents.bots.sheet import csv_text  # the bots' name for it still works

    written = csv_text(["n", "x"], [["-5", -5], ["=1", None], ["007", 7]])
    assert written == "n,x\n'-5,-5\n'=1,\n007,7\n"
    cells = [c for row in _rows(written) for c in row]
    assert [read_cell(c) for c in cells] == cells
    assert [read_cell(c) for c in ("-5.00", "1E+2", "-Infinity", "+5", "\r=x", "a\rb")] == \
        ["-5.00", "1E+2", "'-Infinity", "'+5", "'\n=x", "a\nb"]


# --------------------------------------------------------------------------- the worker: a SQLite outage


def _locked(client: str, *args: object, **kwargs: object) -> object:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    raise OperationalError("UPDATE job", {}, sqlite3.OperationalError("database is locked"))


def test_a_locked_sqlite_ends_the_worker_pass_in_one_line(chimera_home, monkeypatch, capsys) -> None:
    """Was: each client failed in turn on the same locked file, slowly, and the pass said they failed."""
    import graphs.service
    from chimera.clients import add_client
    from tests.test_many_clients import cli

    called: list[str] = []
    monkeypatch.setattr(graphs.service, "run_due_jobs", lambda name, *a, **k: called.append(name) or _locked(name))
    for name in ("aa", "bb", "cc"):
        add_client(name)
    code, stdout, stderr = cli(monkeypatch, capsys, "worker", "--once")
    assert code == 1 and stdout == "" and called == ["aa"]
    assert stderr.strip().splitlines() == ["error: the database failed (OperationalError): database is locked"]


def test_the_looping_worker_waits_out_a_locked_sqlite(monkeypatch, capsys) -> None:
    """The retry predicate takes a SQLite failure as an outage: the pass runs again once it is over."""
    from chimera.cli import cmd_worker
    from chimera.cli.each_client import Walk

    monkeypatch.setenv("CHIMERA_WORKER_BACKOFF", "0.001")
    tries: list[int] = []

    def run_pass() -> Walk:
        tries.append(1)
        if len(tries) < 3:
            _locked("aa")
        return Walk(clients=1)

    walk = cmd_worker._until_the_database_answers(run_pass, once=False)
    assert walk.clients == 1 and len(tries) == 3
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("worker pass failed: the database failed (OperationalError): "
                                                   "database is locked; next try in") for line in lines)
