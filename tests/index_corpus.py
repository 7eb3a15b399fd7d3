"""A small mixed corpus of parsed documents for the index tests (no parser needed).

Chinese statute articles, US Code sections and a patent, in two law versions, so filters, unit keys,
version ordering and language-dependent dense indexing all have something to bite on.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from factories import Unit, parsed_document
from ipqa.domain import Chunk, ParsedDocument, Part


def _doc(kind: str, jurisdiction: str, title: str, language: str, version: str | None,
         units: list[tuple[str, str, str, tuple[Part, ...]]], source: str) -> ParsedDocument:
    """This corpus's conventions (a hierarchy, spans 100 apart, a reference to 专利法 第二条 where the
    text names it) on the shared factory."""
    return parsed_document(
        title,
        [Unit(citation, text, unit=unit, parts=parts,
              hierarchy=("第一章", citation) if language == "zh" else (citation,),
              span=(i * 100, i * 100 + len(text)),
              references=("专利法 第二条",) if "第二条" in text and "第二条" not in citation else (),
              metadata={"n": i})
         for i, (citation, unit, text, parts) in enumerate(units)],
        kind=kind, jurisdiction=jurisdiction, language=language, version=version, source_path=source,
        metadata={"source": source})


def patent_law(version: str = "2020-10-17", *, extra: str = "") -> ParsedDocument:
    units = [
        ("专利法 第一条", "article", "为了保护专利权人的合法权益，鼓励发明创造，推动发明创造的应用，制定本法。" + extra, ()),
        ("专利法 第二条", "article", "本法所称的发明创造是指发明、实用新型和外观设计。发明，是指对产品、方法或者其改进所提出的新的技术方案。",
         (Part("第一款", 0, 22), Part("第二款", 22, 49))),
        ("专利法 第十一条", "article", "发明和实用新型专利权被授予后，除本法另有规定的以外，任何单位或者个人未经专利权人许可，都不得实施其专利。依照本法第二条的规定。", ()),
        ("专利法 第二十二条", "article", "授予专利权的发明和实用新型，应当具备新颖性、创造性和实用性。", ()),
    ]
    return _doc("statute", "CN", "中华人民共和国专利法", "zh", version, units, f"cn-law/专利法({version}).md")


def copyright_law() -> ParsedDocument:
    units = [
        ("著作权法 第一条", "article", "为保护文学、艺术和科学作品作者的著作权，以及与著作权有关的权益，制定本法。", ()),
        ("著作权法 第三条", "article", "本法所称的作品，是指文学、艺术和科学领域内具有独创性并能以一定形式表现的智力成果。", ()),
        ("著作权法 第十条", "article", "著作权包括发表权、署名权、修改权、保护作品完整权、复制权、发行权。", ()),
    ]
    return _doc("statute", "CN", "中华人民共和国著作权法", "zh", "2020-11-11", units, "cn-law/著作权法.md")


def title35() -> ParsedDocument:
    units = [
        ("35 U.S.C. § 101", "section", "Whoever invents or discovers any new and useful process, machine, manufacture, "
         "or composition of matter may obtain a patent therefor.", ()),
        ("35 U.S.C. § 102", "section", "A person shall be entitled to a patent unless the claimed invention was "
         "patented, described in a printed publication, or in public use before the effective filing date.", ()),
        ("35 U.S.C. § 271", "section", "(a) Whoever without authority makes, uses, offers to sell, or sells any "
         "patented invention infringes the patent. (b) Whoever actively induces infringement shall be liable.",
         (Part("(a)", 0, 95), Part("(b)", 96, 160))),
    ]
    return _doc("statute", "US", "35 U.S.C.", "en", "2013-01-01", units, "us-law/usc35.xml")


def patent(number: str = "US 8,927,118 B2", topic: str = "bicycle brake") -> ParsedDocument:
    units = [
        (f"{number}, abstract", "abstract", f"A {topic} with a lever and a cable that stops the wheel quickly.", ()),
        (f"{number}, claim 1", "claim", f"1. A {topic} comprising a lever, a cable and a caliper.", ()),
        (f"{number}, claim 2", "claim", f"2. The {topic} of claim 1, wherein the caliper is hydraulic.", ()),
        (f"{number}, ¶¶ [0001]–[0002]", "paragraphs", f"[0001] The invention relates to a {topic}. [0002] Known "
         "brakes wear out.", (Part("[0001]", 0, 40), Part("[0002]", 41, 64))),
    ]
    return _doc("patent", "US", f"{topic.title()} ({number})", "en", "2015-01-06", units,
                f"patents/{number.replace(' ', '_')}.xml")


def corpus() -> list[ParsedDocument]:
    return [patent_law("2008-12-27"), patent_law("2020-10-17", extra="（修订）"), copyright_law(), title35(),
            patent()]


def simple_unit_keys(chunk: Chunk) -> list[str]:
    """Stand-in for ``ingest.citations.unit_keys`` in store tests: the citation, plus one key per part."""
    return [chunk.citation] + [f"{chunk.citation} {p.label}" for p in chunk.parts]


class HashingEmbedder:
    """A deterministic test embedder (hashed bag of words, L2-normalised) that counts what it encodes.

    It is a real (if weak) embedding function, so dense search over it is meaningful: texts sharing
    words are close. Used where the test is about the index machinery, not about a model.
    """

    def __init__(self, name: str = "test-hashing", dimension: int = 64,
                 languages: frozenset[str] = frozenset({"en"})) -> None:
        self.name = name
        self.dimension = dimension
        self.languages = languages
        self.encoded_documents = 0

    def _encode(self, texts) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    def encode_query(self, texts):
        return self._encode(texts)

    def encode_document(self, texts):
        self.encoded_documents += len(texts)
        return self._encode(texts)


def built_snapshot(root):
    """Build the mixed test corpus into ``root`` with the hashing embedder and open it (the caller
    closes it); module-scoped fixtures of the retrieval and snapshot tests share it."""
    from indexes.build import BuildOptions, build_from_documents
    from indexes.snapshot import open_snapshot

    embedder = HashingEmbedder()
    build_from_documents(root, corpus(), embedder=embedder, options=BuildOptions())
    return open_snapshot(root, embedder=embedder)
