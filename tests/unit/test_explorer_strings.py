"""Every string of the explorer's pages in English and Chinese (issue 15 item 4): each key of
the pages' string table (api/explorer/js/strings.js) has its Chinese text, and each English
text the page marks for translation (data-i18n in index.html) is in the page's translation
table (i18n.js). Read from the files themselves, as the browser gets them."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.conftest import ROOT

JS = ROOT / "api" / "explorer" / "js"
KEY = re.compile(r'^\s*"([^"]+)":|,\s*"([^"]+)":', re.M)


def _keys(block: str) -> set[str]:
    return {a or b for a, b in KEY.findall(block)}


def test_every_string_key_has_english_and_chinese() -> None:
    text = (JS / "strings.js").read_text(encoding="utf-8")
    en = text[text.index("  en: {"):text.index("  zh: {")]
    zh = text[text.index("  zh: {"):text.index("\n};")]
    assert _keys(en) and _keys(en) == _keys(zh), (_keys(en) ^ _keys(zh))


class _Marked(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self._open = "data-i18n" in a
        if "data-i18n-placeholder" in a and a.get("placeholder"):
            self.texts.append(str(a["placeholder"]))

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.texts.append(data.strip())
        self._open = False


def test_every_marked_page_text_has_its_chinese() -> None:
    page = _Marked()
    page.feed((ROOT / "api" / "explorer" / "index.html").read_text(encoding="utf-8"))
    table = (JS / "i18n.js").read_text(encoding="utf-8")
    ui = table[table.index("const UI = {"):table.index("\n};")]
    missing = [t for t in page.texts if f'"{t}":' not in ui]
    assert page.texts and missing == []
