

def test_units_file_quotes_what_csv_quotes(tmp_path: Path) -> None:
    from graph.recall import _write_units

    rows = [("SN-1", "0950", "iri:1", "iri:b", 1, "iri:s"),
            ("SN-2", "09,50", 'a "q"', "line\nbreak", 2, "cr\r"), ("SN-3", "", "i", "", 0, "i")]
    for per in (1, 2, 3):  # parts with and without a field to quote
        path = tmp_path / f"u{per}.csv"
        with path.open("w", newline="") as f:
            _write_units(f, iter(rows), per)
        buf = io.StringIO(newline="")
        csv.writer(buf).writerows(rows)
        assert path.read_bytes() == buf.getvalue().encode()
