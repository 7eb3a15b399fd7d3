"""Regression tests for the ingest defects of issue 15 (hardening): a DOCTYPE hidden behind a long
comment, citations read across a negation, zip bombs, add jobs that change nothing, parser workers
that outlive their parent."""

from __future__ import annotations

import pytest

from ingest.safe_xml import parse_xml_bytes, strip_doctype
from ipqa.errors import InputError

# --- 8. the DOCTYPE refusal does not depend on where the DOCTYPE is -------------------------------------

ENTITY_DOCTYPE = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'


@pytest.mark.parametrize("comment_bytes", [10, 2 * 1024 * 1024])
def test_doctype_after_a_long_comment_is_still_refused(comment_bytes: int) -> None:
    data = (b'<?xml version="1.0"?>\n<!--' + b"c" * comment_bytes + b"-->\n<?pi x?>\n"
            + ENTITY_DOCTYPE + b"\n<x>&e;</x>")
    with pytest.raises(InputError, match="DOCTYPE declares entities"):
        parse_xml_bytes(data, source="bomb.xml")


def test_a_harmless_doctype_after_a_long_comment_is_dropped() -> None:
    data = b"<!--" + b"c" * (2 * 1024 * 1024) + b'-->\n<!DOCTYPE x SYSTEM "x.dtd">\n<x>text</x>'
    assert parse_xml_bytes(data, source="ok.xml").text == "text"


def test_a_doctype_named_inside_a_comment_or_the_body_is_not_the_prolog_doctype() -> None:
    data = b"<!-- <!DOCTYPE x [<!ENTITY e 'y'>]> -->\n<x>&lt;!DOCTYPE</x>"
    assert strip_doctype(data, source="c.xml") == data


# --- 11. a negation before a law's name is not part of the name -----------------------------------------

@pytest.mark.parametrize("text, law", [
    ("并非刑法第二百一十四条规定的情形", "刑法"),
    ("该行为不是商标法第五十七条规定的侵权行为", "商标法"),
    ("而非专利法第十一条", "专利法"),
    ("违反非物质文化遗产法第十条", "非物质文化遗产法"),  # 非 inside a real name stays
])
def test_law_name_is_not_read_across_a_negation(text: str, law: str) -> None:
    from ingest.citations import find_citations

    for known in (None, frozenset({"刑法", "商标法", "专利法", "非物质文化遗产法"})):
        found = find_citations(text, known_laws=known)
        assert [f.ref.law for f in found] == [law], (text, known)
