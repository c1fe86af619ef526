from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rdflib import XSD

from ontology.datatypes import TypeRuleError, coerce, to_utc_text


@pytest.mark.req("URS-DATA-01")
def test_timestamps_need_a_timezone_and_are_stored_in_utc() -> None:
    assert to_utc_text("2026-01-05T09:00:00+01:00") == "2026-01-05T08:00:00.000000Z"
    assert coerce(XSD.dateTime, "2026-01-05T08:00:00Z") == "2026-01-05T08:00:00.000000Z"
    with pytest.raises(TypeRuleError, match="with a timezone"):
        coerce(XSD.dateTime, "2026-01-05T08:00:00")
    with pytest.raises(TypeRuleError, match="ISO-8601"):
        coerce(XSD.dateTime, "yesterday")


@given(st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(UTC)))
def test_stored_timestamps_compare_as_text_like_the_instants(a: datetime, b: datetime) -> None:
    assert (to_utc_text(a) < to_utc_text(b)) == (a < b)


@pytest.mark.parametrize(("datatype", "value", "stored"), [
    (XSD.decimal, "12.50", 12.5), (XSD.decimal, 3, 3.0), (XSD.integer, "42", 42),
    (XSD.boolean, "true", True), (XSD.boolean, False, False),
    (XSD.date, "2027-03-01", "2027-03-01"),
    (XSD.string, "RL-1", "RL-1"),
])
def test_values_are_coerced_to_one_stored_form(datatype: object, value: object,
                                               stored: object) -> None:
    assert coerce(datatype, value) == stored  # type: ignore[arg-type]  # parametrised with URIRefs, typed object


@pytest.mark.parametrize(("datatype", "value"), [
    (XSD.decimal, "12,5"), (XSD.decimal, True), (XSD.decimal, "nan"), (XSD.integer, "4.2"),
    (XSD.boolean, "yes"), (XSD.date, "01/03/2027"), (XSD.string, None),
])
@pytest.mark.req("URS-DATA-01")
def test_bad_values_name_the_rule(datatype: object, value: object) -> None:
    with pytest.raises(TypeRuleError) as e:
        coerce(datatype, value)  # type: ignore[arg-type]  # parametrised with URIRefs, typed object
    assert e.value.value == value and e.value.rule
