"""A small corpus of real provisions (public statute text) and stand-in stages for the answering tests.

Built directly as domain objects, so the answering tests need no parser and no index; written
citations are still resolved by the real ``ingest.citations`` over an ``InMemoryChunkLookup``.
"""

from __future__ import annotations

from typing import Sequence

from indexes.protocols import SearchFilters
from factories import Unit, parsed_document
from ipqa.domain import Chunk, Document, Hit, ParsedDocument, Part

ART_11 = (
    "发明和实用新型专利权被授予后，除本法另有规定的以外，任何单位或者个人未经专利权人许可，都不得实施其专利，"
    "即不得为生产经营目的制造、使用、许诺销售、销售、进口其专利产品，或者使用其专利方法以及使用、许诺销售、"
    "销售、进口依照该专利方法直接获得的产品。\n"
    "外观设计专利权被授予后，任何单位或者个人未经专利权人许可，都不得实施其专利，即不得为生产经营目的制造、"
    "许诺销售、销售、进口其外观设计专利产品。"
)
ART_75 = (
    "有下列情形之一的，不视为侵犯专利权：\n"
    "（一）专利产品或者依照专利方法直接获得的产品，由专利权人或者经其许可的单位、个人售出后，使用、许诺销售、"
    "销售、进口该产品的；\n"
    "（二）在专利申请日前已经制造相同产品、使用相同方法或者已经作好制造、使用的必要准备，并且仅在原有范围内"
    "继续制造、使用的；\n"
    "（三）临时通过中国领陆、领水、领空的外国运输工具，依照其所属国同中国签订的协议或者共同参加的国际条约，"
    "或者依照互惠原则，为运输工具自身需要而在其装置和设备中使用有关专利的；\n"
    "（四）专为科学研究和实验而使用有关专利的；\n"
    "（五）为提供行政审批所需要的信息，制造、使用、进口专利药品或者专利医疗器械的，以及专门为其制造、进口专利"
    "药品或者专利医疗器械的。"
)
ART_42 = (
    "发明专利权的期限为二十年，实用新型专利权的期限为十年，外观设计专利权的期限为十五年，均自申请日起计算。"
)
SEC_271_A = (
    "(a) Except as otherwise provided in this title, whoever without authority makes, uses, offers to sell, "
    "or sells any patented invention, within the United States or imports into the United States any "
    "patented invention during the term of the patent therefor, infringes the patent."
)
SEC_271_E1 = (
    "(e)(1) It shall not be an act of infringement to make, use, offer to sell, or sell within the United "
    "States or import into the United States a patented invention solely for uses reasonably related to "
    "the development and submission of information under a Federal law which regulates the manufacture, "
    "use, or sale of drugs or veterinary biological products."
)
SEC_101 = (
    "Whoever invents or discovers any new and useful process, machine, manufacture, or composition of "
    "matter, or any new and useful improvement thereof, may obtain a patent therefor, subject to the "
    "conditions and requirements of this title."
)


def _parsed(kind: str, jurisdiction: str, title: str, language: str, version: str,
            units: list[tuple[str, str, tuple[Part, ...]]]) -> ParsedDocument:
    unit = "article" if language == "zh" else "section"
    return parsed_document(title, [Unit(citation, text, unit=unit, parts=parts) for citation, text, parts in units],
                           kind=kind, jurisdiction=jurisdiction, language=language, version=version)


def _parts_75() -> tuple[Part, ...]:
    parts = [Part("第一款", 0, len(ART_75))]
    offset = 0
    for n, line in enumerate(ART_75.split("\n")):
        if n:
            label = "第一款 第（" + "一二三四五"[n - 1] + "）项"
            parts.append(Part(label, offset, offset + len(line)))
        offset += len(line) + 1
    return tuple(parts)


def corpus() -> list[ParsedDocument]:
    sec271 = SEC_271_A + "\n" + SEC_271_E1
    e1_start = len(SEC_271_A) + 1
    return [
        _parsed(
            "statute",
            "CN",
            "中华人民共和国专利法",
            "zh",
            "2020-10-17",
            [
                (
                    "专利法 第十一条",
                    ART_11,
                    (
                        Part("第一款", 0, ART_11.index("\n")),
                        Part("第二款", ART_11.index("\n") + 1, len(ART_11)),
                    ),
                ),
                ("专利法 第四十二条", ART_42, ()),
                ("专利法 第七十五条", ART_75, _parts_75()),
            ],
        ),
        _parsed(
            "statute",
            "US",
            "Title 35, United States Code — Patents",
            "en",
            "2013-01-01",
            [
                ("35 U.S.C. § 101", SEC_101, ()),
                (
                    "35 U.S.C. § 271",
                    sec271,
                    (
                        Part("(a)", 0, len(SEC_271_A)),
                        Part("(e)", e1_start, len(sec271)),
                        Part("(e)(1)", e1_start, len(sec271)),
                    ),
                ),
            ],
        ),
    ]


def chunks_by_citation() -> dict[str, Chunk]:
    return {c.citation: c for parsed in corpus() for c in parsed.chunks}


def lookup():
    from ingest.lookup import InMemoryChunkLookup

    return InMemoryChunkLookup(corpus())


def hits(*citations: str) -> list[Hit]:
    by_citation = chunks_by_citation()
    return [Hit(by_citation[c], score=1.0 - i * 0.1, rank=i + 1) for i, c in enumerate(citations)]


class FixedRetriever:
    """Returns the given hits for any query (the answering tests are not about retrieval)."""

    def __init__(self, hits: Sequence[Hit]) -> None:
        self.hits = list(hits)
        self.calls: list[tuple[str, int, SearchFilters | None]] = []

    def retrieve(self, query: str, k: int, filters: SearchFilters | None = None) -> list[Hit]:
        self.calls.append((query, k, filters))
        return self.hits[:k]


class LookupStore:
    """The ChunkLookup part of a store over the fixture corpus (all the Answerer reads)."""

    def __init__(self) -> None:
        self._lookup = lookup()

    def chunks_by_unit_key(self, key: str) -> list[Chunk]:
        return self._lookup.chunks_by_unit_key(key)

    def document(self, document_id: str) -> Document | None:
        return self._lookup.document(document_id)
