"""The ontology's words in the reader's language (GraphQL ``vocabulary``): every class, property
and code list with its label in English or Chinese, from the ontology's ``rdfs:label`` /
``skos:prefLabel`` (``@en``, ``@zh``) — the single source the explorer's generated
``codes.js`` is rendered from too. The language is the ``lang`` argument, else the request's
``Accept-Language`` (``zh``, ``zh-CN``, ``zh-Hans`` … → Chinese), else English.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.graphql.shown import pick as _pick
from api.graphql.types import language, runtime_of
from api.language import LANGUAGES

__all__ = ["LANGUAGES", "Query", "language"]


@strawberry.type
class Term:
    name: str = strawberry.field(description="The ontology's local name (as stored).")
    label: str = strawberry.field(description="Its label in the answer's language.")


@strawberry.type
class CodeTerm:
    code: str = strawberry.field(description="The code as stored (skos:notation).")
    label: str


@strawberry.type
class CodeListTerm:
    scheme: str
    label: str
    properties: list[str] = strawberry.field(description="The properties holding this list.")
    codes: list[CodeTerm]


@strawberry.type
class Vocabulary:
    lang: str
    classes: list[Term]
    properties: list[Term]
    code_lists: list[CodeListTerm]


@strawberry.type
class Query:
    @strawberry.field(description="Classes, properties and code lists with their labels in "
                                  "English or Chinese (lang, else Accept-Language).")
    def vocabulary(self, info: Info[Any, None], lang: str | None = None) -> Vocabulary:
        chosen = language(info, lang)
        vocab = runtime_of(info).vocab
        return Vocabulary(
            lang=chosen,
            classes=[Term(name=c.name, label=_pick(c.label, c.label_zh, chosen))
                     for c in sorted(vocab.classes.values(), key=lambda c: c.name)],
            properties=[Term(name=p.name, label=_pick(p.label, p.label_zh, chosen))
                        for p in sorted(vocab.properties.values(), key=lambda p: p.name)],
            code_lists=[CodeListTerm(
                scheme=cl.scheme, label=_pick(cl.label_en, cl.label_zh, chosen),
                properties=list(cl.properties),
                codes=[CodeTerm(code=c.notation, label=_pick(c.label_en, c.label_zh, chosen))
                       for c in cl.codes]) for cl in vocab.code_lists])
