"""A record's properties as people read them, in English or Chinese (GraphQL ``Node.shown``,
issue 15 item 4): each property by its ontology label, a code by its label (``skos:prefLabel``
from the generated ``ontology/codes.py``), a time in the plant's time zone
(:func:`quality.signatures.human_time`), a unit as people write it
(:func:`ontology.units.display_unit`). The stored value stays beside it (``value``)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from ontology.codes import CODE_LISTS, LABELS
from ontology.units import display_unit
from ontology.vocab import vocabulary
from quality.signatures import human_time

__all__ = ["ShownProperty", "pick", "shown_properties"]

_YES_NO = {"en": ("yes", "no"), "zh": ("是", "否")}


@strawberry.type(description="One property of a record as people read it.")
class ShownProperty:
    name: str = strawberry.field(description="The property's name (as stored).")
    label: str = strawberry.field(description="Its ontology label in the answer's language.")
    value: JSON = strawberry.field(description="The stored value.")
    text: str = strawberry.field(description="The value as people read it: a code by its "
                                             "label, a time in the plant's time zone, a unit "
                                             "as written (°C, pcs).")


def pick(en: str, zh: str, lang: str) -> str:
    """The Chinese label when asked for and present, else the English one."""
    return zh if lang == "zh" and zh else en


def _text(name: str, value: Any, lang: str, tz: str) -> str:
    if isinstance(value, bool):
        return _YES_NO[lang][0 if value else 1]
    if isinstance(value, list):
        return ", ".join(_text(name, v, lang, tz) for v in value)
    if not isinstance(value, str):
        return str(value)
    scheme = CODE_LISTS.get(name)
    if scheme is not None and value in LABELS[scheme]:
        return pick(*LABELS[scheme][value], lang)
    if name == "unitCode":
        return display_unit(value)
    return human_time(value, tz)  # a time in the plant's zone; any other text as it is


def shown_properties(props: dict[str, Any], lang: str, tz: str) -> list[ShownProperty]:
    known = vocabulary().properties
    out = []
    for name in sorted(props):
        p = known.get(name)
        out.append(ShownProperty(name=name, label=pick(p.label, p.label_zh, lang) if p else name,
                                 value=props[name], text=_text(name, props[name], lang, tz)))
    return out
