"""The signed actions' words in English and Chinese (issue 15 item 2): every key of their
string table (api/explorer/js/act-strings.js) has both texts, and every key the action modules
and the deviation view ask t() for is in a table (theirs or the pages' strings.js). Read from
the files themselves, as the browser gets them."""

from __future__ import annotations

import re

from tests.conftest import ROOT
from tests.unit.test_explorer_strings import _keys

JS = ROOT / "api" / "explorer" / "js"
USERS = ("sign.js", "actions.js", "record.js", "deviation.js")
CALL = re.compile(r'\bt\(\s*"([^"]+)"')


def _tables() -> tuple[set[str], set[str]]:
    text = (JS / "act-strings.js").read_text(encoding="utf-8")
    en = text[text.index("Object.assign(STRINGS.en"):text.index("Object.assign(STRINGS.zh")]
    zh = text[text.index("Object.assign(STRINGS.zh"):]
    return _keys(en), _keys(zh)


def test_every_action_string_has_english_and_chinese() -> None:
    en, zh = _tables()
    assert en and en == zh, en ^ zh


def test_every_key_the_actions_use_is_translated() -> None:
    en, _ = _tables()
    pages = (JS / "strings.js").read_text(encoding="utf-8")
    known = en | _keys(pages[pages.index("  en: {"):pages.index("  zh: {")])
    used = {k for f in USERS for k in CALL.findall((JS / f).read_text(encoding="utf-8"))}
    assert used and used - known == set(), used - known
