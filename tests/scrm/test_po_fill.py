"""The glossary filler: fills what the glossary knows, never keeps a fuzzy guess it does not know."""

from pathlib import Path

import pytest

from scrm import po_fill

PO = '''msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

#, fuzzy
#| msgid "已发送 %(n)s 条"
msgid "已计划 %(count)s 条"
msgstr "Sent %(n)s"

#, fuzzy, python-format
#| msgid "旧的"
msgid "门店 %(name)s"
msgstr "Old %(x)s"

msgid "客户"
msgstr ""

msgid "标签"
msgstr "Tag"
'''


@pytest.fixture
def locale_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "LC_MESSAGES").mkdir()
    (tmp_path / "LC_MESSAGES" / "django.po").write_text(PO, encoding="utf-8")
    (tmp_path / "glossary.tsv").write_text("客户\tCustomer\n门店 %(name)s\tStore %(name)s\n", encoding="utf-8")
    monkeypatch.setattr(po_fill, "BASE", tmp_path)
    return tmp_path


def test_fuzzy_guess_without_glossary_answer_is_blanked_and_reported(
    locale_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert po_fill.main() == 0
    text = (locale_dir / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    assert 'msgid "已计划 %(count)s 条"\nmsgstr ""' in text
    assert "Sent %(n)s" not in text
    assert 'msgid "门店 %(name)s"\nmsgstr "Store %(name)s"' in text
    assert 'msgid "客户"\nmsgstr "Customer"' in text
    assert 'msgid "标签"\nmsgstr "Tag"' in text  # a kept translation the glossary does not list
    assert "fuzzy" not in text and "#|" not in text
    assert '"Content-Type: text/plain; charset=UTF-8\\n"' in text
    assert "已计划 %(count)s 条" in capsys.readouterr().err
