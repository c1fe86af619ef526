"""Reading a legacy export row by row: CSV, XLSX (openpyxl) or JSON, each row with the number a
person finds it under (CSV/XLSX: the spreadsheet row, header = row 1; JSON: the position in the
list, from 1)."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

__all__ = ["Source", "SourceError", "cell_text", "sha256_of"]


class SourceError(ValueError):
    """A source file that cannot be read as the mapping says."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cell_text(value: Any) -> str | None:
    """A cell as text (``None`` for an empty one): numbers without a spurious ``.0``, dates and
    times in ISO 8601. A spreadsheet has no date type: a date cell is a time at midnight, and
    is read as the date (``2024-03-04``); other times keep their clock time, without a zone
    when the cell has none (refused where the ontology wants one: add it in the mapping,
    ``"{COL}Z"``, or export times as text with their offset)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        midnight = value.tzinfo is None and value.time() == datetime.min.time()
        return value.date().isoformat() if midnight else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


@dataclass(frozen=True)
class Source:
    """One export file and how to read it."""

    path: Path
    fmt: str
    sheet: str | None = None
    records_key: str | None = None

    @classmethod
    def of(cls, path: Path, fmt: str | None = None, sheet: str | None = None,
           records_key: str | None = None) -> Source:
        kind = (fmt or path.suffix.lstrip(".")).lower()
        if kind not in ("csv", "xlsx", "json", "jsonl"):
            raise SourceError(f"{path}: cannot read {kind!r} (csv, xlsx or json)")
        if not path.is_file():
            raise SourceError(f"{path}: no such file")
        return cls(path, kind, sheet, records_key)

    @property
    def name(self) -> str:
        return self.path.name

    def columns(self) -> set[str]:
        """The header: every column name the file has."""
        if self.fmt == "csv":
            with self.path.open(encoding="utf-8-sig", newline="") as f:
                return set(next(csv.reader(f), []))
        cols: set[str] = set()
        for i, (_, row) in enumerate(self.rows()):
            cols.update(row)
            if self.fmt == "xlsx" or i > 1000:
                break
        return cols

    def rows(self) -> Iterator[tuple[int, dict[str, str | None]]]:
        """``(row number, {column: text or None})`` for every data row."""
        if self.fmt == "csv":
            yield from self._csv()
        elif self.fmt == "xlsx":
            yield from self._xlsx()
        else:
            yield from self._json()

    def _csv(self) -> Iterator[tuple[int, dict[str, str | None]]]:
        with self.path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            for rec in reader:
                yield reader.line_num, {k: cell_text(v) for k, v in rec.items() if k is not None}

    def _xlsx(self) -> Iterator[tuple[int, dict[str, str | None]]]:
        from openpyxl import load_workbook  # type: ignore[import-untyped]  # no type information

        wb = load_workbook(self.path, read_only=True, data_only=True)
        try:
            if self.sheet is not None and self.sheet not in wb.sheetnames:
                raise SourceError(f"{self.path}: no sheet {self.sheet!r} "
                                  f"(it has {', '.join(wb.sheetnames)})")
            ws = wb[self.sheet] if self.sheet is not None else wb.worksheets[0]
            it = ws.iter_rows(values_only=True)
            header = [cell_text(c) or "" for c in next(it, ())]
            for n, values in enumerate(it, start=2):
                if all(v is None for v in values):
                    continue
                yield n, {h: cell_text(v) for h, v in zip(header, values, strict=False) if h}
        finally:
            wb.close()

    def _json(self) -> Iterator[tuple[int, dict[str, str | None]]]:
        if self.fmt == "jsonl":
            with self.path.open("rb") as f:
                items: list[Any] = [orjson.loads(line) for line in f if line.strip()]
        else:
            data = orjson.loads(self.path.read_bytes())
            if self.records_key is not None:
                if not isinstance(data, dict) or self.records_key not in data:
                    raise SourceError(f"{self.path}: no key {self.records_key!r} at the top")
                data = data[self.records_key]
            if not isinstance(data, list):
                raise SourceError(f"{self.path}: the rows are a list of objects (set "
                                  "[source] records to the key that holds them)")
            items = data
        for n, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise SourceError(f"{self.path}: row {n} is not an object")
            yield n, {str(k): _json_cell(v) for k, v in item.items()}


def _json_cell(value: Any) -> str | None:
    """A JSON value as cell text; Odoo exports a many2one as ``[id, "name"]``: its name."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], str):
        return cell_text(value[1])
    if value is False:  # Odoo writes an empty field as false
        return None
    return cell_text(value)
