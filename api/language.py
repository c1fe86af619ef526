"""The reader's language (issue 15 item 4), one rule for GraphQL and the REST routes: an explicit
choice (``lang``: ``en``, ``zh``, or a tag whose primary subtag is one of them, e.g. ``zh-CN``)
wins; else the best-ranked supported language of ``Accept-Language``; else English."""

from __future__ import annotations

__all__ = ["LANGUAGES", "negotiate", "primary"]

LANGUAGES = ("en", "zh")


def primary(tag: str) -> str | None:
    """``en`` or ``zh`` for a language tag of either (``zh-Hans-CN`` → ``zh``), else None.

    >>> [primary(t) for t in ("zh", "zh-CN", "EN-gb", "fr", "")]
    ['zh', 'zh', 'en', None, None]
    """
    p = tag.strip().lower().replace("_", "-").split("-")[0]
    return p if p in LANGUAGES else None


def negotiate(header: str | None) -> str:
    """The supported language ``Accept-Language`` ranks highest (q-values, then order), else
    English.

    >>> [negotiate(h) for h in ("zh-CN,zh;q=0.9,en;q=0.8", "en;q=0.5, zh;q=0.7", "fr", None)]
    ['zh', 'zh', 'en', 'en']
    """
    ranked = []
    for i, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = primary(tag)
        if lang is not None and q > 0:
            ranked.append((-q, i, lang))
    return min(ranked)[2] if ranked else "en"
