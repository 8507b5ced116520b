"""The zh_CN catalogue covers the web UI: every string the pages and the web layer mark for translation (as
`make translations` extracts them) has a Chinese entry, none is fuzzy or empty, each keeps its msgid's
placeholders, and the committed .mo says what the .po says."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import logcenter.web

WEB = Path(logcenter.web.__file__).parent
LC = WEB / "locale" / "zh_CN" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def extracted() -> set[str]:
    """The msgids `make translations` extracts (babel.cfg: the web package's Python and templates)."""
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(WEB), method_map, options, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_marked_string_has_a_chinese_translation():
    with open(LC / "messages.po", "rb") as f:
        po = read_po(f)
    entries = {m.id if isinstance(m.id, str) else m.id[0]: m for m in po if m.id}
    missing = sorted(extracted() - set(entries))
    assert missing == [], "run `make translations` and translate these"
    fuzzy = sorted(key for key, m in entries.items() if m.fuzzy)
    assert fuzzy == []
    for key, m in entries.items():
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        assert all(strings), f"untranslated: {key!r}"
        wanted = {p for text in ids for p in PLACEHOLDER.findall(text)}
        for string in strings:  # a translation that drops or invents a parameter fails when shown
            assert set(PLACEHOLDER.findall(string)) <= wanted, key
            assert len(ids) > 1 or set(PLACEHOLDER.findall(string)) == wanted, key


def _plain(value: str | tuple[str, ...] | list[str]) -> str | tuple[str, ...]:
    return value if isinstance(value, str) else tuple(value)


def test_the_compiled_catalogue_matches_the_po_file():
    with open(LC / "messages.po", "rb") as f:
        po = {_plain(m.id): _plain(m.string) for m in read_po(f) if m.id}
    with open(LC / "messages.mo", "rb") as f:
        mo = {_plain(m.id): _plain(m.string) for m in read_mo(f) if m.id}
    assert mo == po, "run `make translations` (pybabel compile)"
