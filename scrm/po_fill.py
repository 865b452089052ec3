"""Fill empty English translations in ``locale/en`` from a glossary file (developer tool).

``python -m scrm.po_fill`` reads ``locale/en/glossary.tsv`` (``中文<TAB>English`` per line) and writes
every matching empty ``msgstr`` in ``locale/en/LC_MESSAGES/django.po``; it reports the msgids still
untranslated, so a new UI string is never silently left Chinese-only. ``make messages`` runs it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent / "locale" / "en"
ENTRY = re.compile(r'(msgid "(?P<id>(?:[^"\\]|\\.)*)"\nmsgstr ")(?:[^"\\]|\\.)*(")', re.MULTILINE)
# A plural entry (English has two forms); its glossary line gives them as ``singular|plural``.
PLURAL = re.compile(
    r'(msgid "(?P<id>(?:[^"\\]|\\.)*)"\nmsgid_plural "(?:[^"\\]|\\.)*"\n)msgstr\[0\] "(?:[^"\\]|\\.)*"\n'
    r'msgstr\[1\] "(?:[^"\\]|\\.)*"',
    re.MULTILINE,
)


def main() -> int:
    glossary = {}
    for line in (BASE / "glossary.tsv").read_text(encoding="utf-8").splitlines():
        if "\t" in line and not line.startswith("#"):
            zh, en = line.split("\t", 1)
            glossary[zh] = en
    po_path = BASE / "LC_MESSAGES" / "django.po"
    text = po_path.read_text(encoding="utf-8")
    missing: list[str] = []

    def fill(match: re.Match[str]) -> str:
        english = glossary.get(match.group("id").replace('\\"', '"'))
        if english is None:
            return match.group(0)
        escaped = english.replace('"', '\\"')
        return f"{match.group(1)}{escaped}{match.group(3)}"

    def fill_plural(match: re.Match[str]) -> str:
        english = glossary.get(match.group("id").replace('\\"', '"'))
        if english is None:
            return match.group(0)
        one, _, many = english.partition("|")
        one, many = (x.replace('"', '\\"') for x in (one, many or one))
        return f'{match.group(1)}msgstr[0] "{one}"\nmsgstr[1] "{many}"'

    blocks = []
    for block in text.split("\n\n"):
        filled = ENTRY.sub(fill, PLURAL.sub(fill_plural, block))
        msgid = re.search(r'^msgid "((?:[^"\\]|\\.)+)"$', block, flags=re.MULTILINE)
        known = msgid is not None and msgid.group(1).replace('\\"', '"') in glossary
        if msgid and not known and _is_fuzzy(block):
            # A guess makemessages made from a similar string, and the glossary has no answer: a wrong
            # msgstr (with other %(name)s) is worse than none, so it is blanked and reported below.
            filled = re.sub(r'^(msgstr(?:\[\d\])?) ".*"$', r'\1 ""', block, flags=re.MULTILINE)
        filled = re.sub(r"^#, fuzzy\n", "", filled, flags=re.MULTILINE).replace("#, fuzzy, ", "#, ")
        # The previous msgid that makemessages keeps next to a fuzzy guess: decided above.
        filled = re.sub(r"^#\| .*\n?", "", filled, flags=re.MULTILINE)
        if msgid and re.search(r'^msgstr(?:\[0\])? ""$', filled, flags=re.MULTILINE):
            missing.append(msgid.group(1))
        blocks.append(filled)
    text = "\n\n".join(blocks)
    po_path.write_text(text, encoding="utf-8")
    if missing:
        print("untranslated:", *missing, sep="\n  ", file=sys.stderr)
    return 0


def _is_fuzzy(block: str) -> bool:
    return bool(re.search(r"^#, (?:.*, )?fuzzy\b", block, flags=re.MULTILINE))


if __name__ == "__main__":
    raise SystemExit(main())
