"""The unit view a citation opens (api/web/unit_view.py): the quoted span, neighbours, other versions."""

from __future__ import annotations

from pathlib import Path


def test_highlight_finds_the_quote_even_with_different_whitespace() -> None:
    from api.web.unit_view import highlight

    assert highlight("甲乙丙丁", "乙丙") == ("甲", "乙丙", "丁")
    assert highlight("Whoever  invents\nany process", "Whoever invents any") == ("", "Whoever  invents\nany", " process")
    assert highlight("甲乙丙丁", "戊") is None and highlight("甲乙", "  ") is None


def test_the_unit_view_lists_the_units_other_versions(tmp_path: Path) -> None:
    from index_corpus import patent_law

    from api.web.unit_view import unit_view
    from indexes.store import SqliteChunkStore
    from ingest.citations import unit_keys

    old, new = patent_law("2008-12-27"), patent_law("2020-10-17", extra="（修订）")
    store = SqliteChunkStore.create(tmp_path / "store.sqlite", unit_keys_of=unit_keys)
    for parsed in (old, new):
        store.add(parsed)
    store.compact()
    store.close()
    store = SqliteChunkStore.open_readonly(tmp_path / "store.sqlite")
    article = next(c for c in new.chunks if c.citation == "专利法 第二条")
    view = unit_view(store, article, quote="发明，是指对产品", status="verified")
    older = next(c for c in old.chunks if c.citation == "专利法 第二条")
    assert [(v["id"], v["version"]) for v in view["versions"]] == [(older.id, "2008-12-27")]
    assert view["marked"][1] == "发明，是指对产品" and view["previous"].citation == "专利法 第一条"
    assert view["next"].citation == "专利法 第十一条" and view["document"].version == "2020-10-17"
    store.close()
