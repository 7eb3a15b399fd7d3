"""Canonical citations of law versions not in force today carry the version (issue 13):
专利法实施细则（2010）第六十九条, the year when it is unique among the law's versions, else the ISO date;
the version in force stays unqualified. Applied where results are served (rag/versioned.py), never
to the stored chunks; the resolver reads every such form back to the same chunk."""

from __future__ import annotations

from pathlib import Path

import pytest

from factories import Unit, make_chunk, parsed_document
from indexes.store import SqliteChunkStore
from ingest.citations import resolve, resolve_citation
from ipqa.domain import Hit
from ipqa.in_force import DatedVersion, version_labels
from rag.versioned import CitationVersions, versioned_citation

LAW = "中华人民共和国示例法实施细则"
SHORT = "示例法实施细则"
TODAY = "2026-01-01"


def test_the_year_names_a_version_unless_another_version_has_that_year():
    versions = [DatedVersion("v2010", "law", "2010-02-01", "2010-01-09"),
                DatedVersion("v2022a", "law", "2022-05-01", "2022-04-04"),
                DatedVersion("v2022b", "law", "2022-11-01", "2022-10-30"),
                DatedVersion("later", "other law", "2030-01-01", "2029-12-01"),
                DatedVersion("undated", "third law", "2001-01-01", None),
                DatedVersion("undated-new", "third law", "2011-01-01", None)]
    # in force today: v2022b (no qualifier); superseded: v2010, v2022a; not yet in force: later
    assert version_labels(versions, TODAY) == {"v2010": "2010", "v2022a": "2022-04-04", "later": "2029"}
    # on another day another version is the current one, and it is the one left plain
    assert version_labels(versions, "2015-06-01")["v2022b"] == "2022-10-30"
    assert "v2010" not in version_labels(versions, "2015-06-01")


@pytest.mark.parametrize("citation, label, expected", [
    ("专利法实施细则 第六十九条", "2010", "专利法实施细则（2010）第六十九条"),
    ("专利法实施细则 第六十九条 第二款", "2022-04-04", "专利法实施细则（2022-04-04）第六十九条 第二款"),
    ("宪法 序言", "2004", "宪法（2004）序言"),
    ("刑法修正案（二）", "2001-08-31", "刑法修正案（二）（2001-08-31）"),
    ("专利法实施细则 第六十九条", None, "专利法实施细则 第六十九条"),  # in force: as it is
    ("专利法实施细则（2010）第六十九条", "2010", "专利法实施细则（2010）第六十九条"),  # already named
    ("35 U.S.C. § 101", "2013", "35 U.S.C. § 101"),  # not a Chinese law's unit
])
def test_the_form_of_a_versioned_citation(citation, label, expected):
    assert versioned_citation(citation, label) == expected


def _version(version: str, effective: str, marker: str):
    return parsed_document(LAW, [Unit(f"{SHORT} 第一条", f"{marker}的第一条。"),
                                 Unit(f"{SHORT} 第六十九条", f"{marker}的第六十九条。\n第二款的内容。")],
                           version=version, metadata={"effective": effective})


@pytest.fixture()
def store(tmp_path: Path):
    path = tmp_path / "store.sqlite"
    writable = SqliteChunkStore.create(path)
    for parsed in (_version("2010-01-09", "2010-02-01", "二〇一〇年"),
                   _version("2022-04-04", "2022-05-01", "二〇二二年四月"),
                   _version("2022-10-30", "2022-11-01", "二〇二二年十月")):
        writable.add(parsed)
    writable.compact()
    writable.close()
    readonly = SqliteChunkStore.open_readonly(path)
    yield readonly
    readonly.close()


def test_every_versioned_citation_resolves_back_to_its_chunk(store):
    versions = CitationVersions(store, today=lambda: TODAY)
    seen = {}
    for _, chunk, document in store.iter_chunks_with_documents():
        cited = versions.chunk(chunk).citation
        seen[cited] = document.version
        resolutions = resolve(cited, store)
        assert [r.chunk.id for r in resolutions] == [chunk.id] or (
            document.version == "2022-10-30" and resolutions[0].chunk.id == chunk.id), cited
        if not cited.endswith("第六十九条"):
            continue
        # a part of it too, as an answer cites it
        part = resolve_citation(f"{cited} 第二款", store)
        assert part.ok and part.resolutions[0].chunk.id == chunk.id and part.resolutions[0].text == "第二款的内容。"
    assert seen == {f"{SHORT}（2010）第一条": "2010-01-09", f"{SHORT}（2010）第六十九条": "2010-01-09",
                    f"{SHORT}（2022-04-04）第一条": "2022-04-04", f"{SHORT}（2022-04-04）第六十九条": "2022-04-04",
                    f"{SHORT} 第一条": "2022-10-30", f"{SHORT} 第六十九条": "2022-10-30"}
    # the stored chunks keep their citations
    assert {chunk.citation for _, chunk, _ in store.iter_chunks_with_documents()} == {
        f"{SHORT} 第一条", f"{SHORT} 第六十九条"}


def test_hits_are_qualified_and_others_left_alone(store):
    versions = CitationVersions(store, today=lambda: TODAY)
    chunks = {document.version: chunk for _, chunk, document in store.iter_chunks_with_documents()
              if chunk.citation.endswith("第六十九条")}
    other = make_chunk("35 U.S.C. § 101", document_id="us")
    hits = [Hit(chunk=c, score=1.0, rank=i) for i, c in enumerate(
        [chunks["2010-01-09"], chunks["2022-10-30"], other], 1)]
    served = versions.hits(hits)
    assert [h.chunk.citation for h in served] == [f"{SHORT}（2010）第六十九条", f"{SHORT} 第六十九条", "35 U.S.C. § 101"]
    assert served[1] is hits[1] and served[2] is hits[2]  # nothing to change: the same hit
    # the sources a generator is shown name the version too
    from rag.prompts import format_source
    assert format_source(1, served[0]).startswith(f"[1] {SHORT}（2010）第六十九条\n")
    assert [h.chunk.id for h in served] == [h.chunk.id for h in hits]
    # the day decides which version is the current one
    then = CitationVersions(store, today=lambda: "2015-06-01").hits(hits)
    assert [h.chunk.citation for h in then[:2]] == [f"{SHORT} 第六十九条", f"{SHORT}（2022-10-30）第六十九条"]


def test_the_verifier_reads_a_written_version_as_that_version(store):
    from rag.judges import LexicalJudge
    from rag.verify import CitationVerifier

    current = next(chunk for _, chunk, document in store.iter_chunks_with_documents()
                   if document.version == "2022-10-30" and chunk.citation.endswith("第六十九条"))
    old = next(chunk for _, chunk, document in store.iter_chunks_with_documents()
               if document.version == "2010-01-09" and chunk.citation.endswith("第六十九条"))
    verifier = CitationVerifier(store, LexicalJudge(), known_laws=[LAW])
    sources = CitationVersions(store, today=lambda: TODAY).hits([Hit(chunk=current, score=1.0, rank=1)])
    checked = verifier.verify(f"依照{SHORT}（2010）第六十九条，二〇一〇年的第六十九条。[1]", sources)
    # the written 2010 version is not source [1] (the version in force): it is cited as itself
    assert [(c.citation, c.chunk_id) for c in checked.citations] == [
        (f"{SHORT} 第六十九条", current.id), (f"{SHORT}（2010）第六十九条", old.id)]
    # a version the law never had is not taken for the source either
    missing = verifier.verify(f"依照{SHORT}（1999）第六十九条，二〇二二年十月的第六十九条。[1]", sources)
    assert [c.problem for c in missing.citations][1:] == ["unresolved"]
    # the plain form is the source
    plain = verifier.verify(f"依照{SHORT}第六十九条，二〇二二年十月的第六十九条。[1]", sources)
    assert [c.chunk_id for c in plain.citations] == [current.id] and plain.citations[0].verified


def test_gold_matching_sees_the_unit_whatever_its_citation_says(store):
    from evals.gold import GoldResolver, ranked_labels

    by_version = {document.version: chunk for _, chunk, document in store.iter_chunks_with_documents()
                  if chunk.citation.endswith("第六十九条")}
    hits = CitationVersions(store, today=lambda: TODAY).hits(
        [Hit(chunk=by_version["2010-01-09"], score=1.0, rank=1)])
    assert hits[0].chunk.citation == f"{SHORT}（2010）第六十九条"
    gold = GoldResolver(store)
    plain, versioned = gold(f"{SHORT}第六十九条"), gold(f"{SHORT}（2010）第六十九条")
    assert ranked_labels(hits, [plain]) == [plain.label]  # any version of the gold article counts
    assert ranked_labels(hits, [versioned]) == [versioned.label]  # and a named version is that one
    assert versioned.chunk_ids == {by_version["2010-01-09"].id}


@pytest.mark.parametrize("cited, expected", [
    (f"{SHORT}（2010）第六十九条", f"{SHORT}（2010）第一条"),  # the answer cited the superseded version
    (f"原{SHORT}第六十九条", f"原{SHORT} 第一条"),
    (f"{SHORT} 第六十九条", f"{SHORT} 第一条"),  # the version in force: no version carried
])
def test_a_follow_up_stays_in_the_version_the_conversation_is_about(cited, expected):
    from rag.conversation import Turn, resolve_followup

    resolved = resolve_followup("第一条呢？", [Turn("无效宣告请求应当向哪里提交？", "…", (cited,))], known_laws=[SHORT])
    assert resolved.standalone.startswith(expected + " ") and resolved.carried == (expected,)
    # a law named in the follow-up is not put in the earlier law's version
    other = resolve_followup("那《专利法》第十一条呢？", [Turn(f"{cited}规定了什么？", "…", ())], known_laws=[SHORT, "专利法"])
    assert other.carried[:1] == ("专利法 第十一条",)
