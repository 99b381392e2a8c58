"""Every page string exists in English and Russian, with the same placeholders, and every key a
template asks for literally is in the catalogue (a missing one would show the key itself)."""

from __future__ import annotations

import re
import string
from pathlib import Path

import authgate
from authgate.demo.panel import PAGES as PANEL_PAGES
from authgate.web.i18n import LANGS

# The sample panel's catalogue is the gateway's plus the panel's own words.
CATALOG = PANEL_PAGES.catalog.messages
SOURCES = Path(authgate.__file__).parent
TEMPLATES = [SOURCES / "web" / "templates", SOURCES / "demo" / "templates"]
_LITERAL_KEY = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_.]+)["']\s*[,)]""")
_LITERAL_TRANSLATE = re.compile(r"""\btranslate\(\s*\w+,\s*["']([A-Za-z0-9_.]+)["']""")


def _fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def test_english_and_russian_have_the_same_keys_and_placeholders() -> None:
    en = CATALOG["en"]
    for lang in LANGS:
        other = CATALOG[lang]
        assert set(other) == set(en), (lang, set(en) ^ set(other))
        for key, text in other.items():
            assert text.strip(), (lang, key)
            assert _fields(text) == _fields(en[key]), (lang, key)


def test_every_literal_key_in_templates_and_code_is_translated() -> None:
    used = {key for d in TEMPLATES for f in d.rglob("*.html")
            for key in _LITERAL_KEY.findall(f.read_text())}
    assert len(used) > 50  # the pattern still finds the keys
    in_code = {key for f in SOURCES.rglob("*.py") for key in _LITERAL_TRANSLATE.findall(
        f.read_text())}
    assert len(in_code) >= 5
    used |= in_code
    missing = sorted(key for key in used if key not in CATALOG["en"])
    assert missing == []
