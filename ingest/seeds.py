"""Recall seeds from a file people already have: a CSV export (the seed column found by its
header, else the first column) or a plain list, one identifier per line. The CLI's
``tracegraph recall --seeds`` and the explorer's seed upload (``POST /api/recall/seeds``) both read
files with :func:`seeds_from_text`.

>>> seeds_from_text("lot,qty,unit\\nRL-PP-0001,12,kg\\nRL-PP-0002,3,kg\\n")
['RL-PP-0001', 'RL-PP-0002']
>>> seeds_from_text("RL-PP-0001\\nRL-PP-0001\\n\\nSN-1\\n")
['RL-PP-0001', 'SN-1']
"""

from __future__ import annotations

import csv
import io

__all__ = ["SEED_COLUMNS", "seeds_from_text"]

#: header names (any case) of the column that holds the seeds, in order of preference
SEED_COLUMNS = ("seed", "lot", "lotnumber", "lot number", "supplierlotnumber",
                "supplier lot", "serial", "serialnumber", "serial number", "iri", "identifier",
                "批号", "序列号")


def seeds_from_text(text: str) -> list[str]:
    """The seed values of a CSV or text file, in order, without duplicates or blanks. A header
    row is recognised by one of :data:`SEED_COLUMNS`; without one, the first column is taken."""
    text = text.lstrip("\ufeff")  # a UTF-8 BOM, as spreadsheet programs write it
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(io.StringIO(text), dialect) if r and r[0].strip()]
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0]]
    col, body = 0, rows
    for name in SEED_COLUMNS:
        if name in header:
            col, body = header.index(name), rows[1:]
            break
    return list(dict.fromkeys(v for r in body if len(r) > col and (v := r[col].strip())))
