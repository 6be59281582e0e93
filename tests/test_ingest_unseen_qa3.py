"""QA3: exports from stores the project never saw, each bug found kept as a regression test.

Every file is written here in tmp_path; expected values are computed in the test from the rows
written (DATA.md's definitions), never from the product's code.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from chimera.clients import add_client, get_client
from chimera.errors import IngestError
from chimera.ingest import ingest_file
from chimera.ingest.fiverr import yaml_scalar

_names = itertools.count()


def _client(extra: str = ""):
    client = add_client(f"qa3-{next(_names)}")
    if extra:
        yml = client.folder / "client.yml"
        yml.write_text(yml.read_text() + extra)
    return get_client(client.name)


# --------------------------------------------------------------------------- Fiverr mapping hint


def test_the_suggested_fiverr_mapping_survives_yaml_for_a_column_named_with_a_hash(
    chimera_home: Path, tmp_path: Path
) -> None:
    """A sheet with an `Order #` column: the hint said `order_id: Order #`, which YAML reads as
    `Order` (` #` starts a comment), so the pasted mapping was refused for a column the file lacks."""
    path = tmp_path / "fiverr.csv"
    path.write_text("Order #,Order Date,Net Earnings,Order Status\nFO1,2026-03-02,40.00,Completed\n"
                    "FO2,2026-03-02,12.50,Cancelled\nFO3,2026-03-03,7.25,completed\n")
    client = _client()
    with pytest.raises(IngestError) as err:
        ingest_file(client, path, "fiverr_orders")
    hint = str(err.value).split("(check it):\n", 1)[1]
    assert "  order_id: 'Order #'" in hint.splitlines()
    assert yaml.safe_load(hint)["fiverr"]["order_id"] == "Order #"
    yml = client.folder / "client.yml"
    yml.write_text(yml.read_text() + hint + "\n")
    summary = ingest_file(get_client(client.name), path, "fiverr_orders")
    assert summary.rejected == [] and summary.orders_ingested == 3


@pytest.mark.parametrize("name", ["Order ID", "Order #", "Status: final", "@id", "yes", "123", "Buyer's date",
                                  "# of items", "[x]", "Net Earnings ($)"])
def test_each_hint_value_reads_back_as_the_column_name(name: str) -> None:
    assert yaml.safe_load(f"k: {yaml_scalar(name)}") == {"k": name}
