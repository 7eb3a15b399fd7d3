"""Chinese court judgments (民事判决书…) -> one chunk per section (原告诉称, 本院认为, 判决如下…).

A judgment opens with the court, the document type and the case number (（2019）最高法知民终123号),
then the parties (原告/被告, or 上诉人/被上诉人 on appeal), the procedural history, and the sections a
reader cites: the parties' submissions (原告诉称 / 被告辩称, 上诉人…上诉请求 / 被上诉人…辩称), the facts
(经审理查明 / 本院查明), the reasoning (本院认为) and the order (判决如下), closing with the bench,
the date written in Chinese numerals and the clerk. Each section is a chunk cited as
``（2019）最高法知民终123号 本院认为``; its paragraphs are its parts (``¶ 1``, ``¶ 2``…).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from ingest.cn_case import APPEAL_MARK, CASE_NUMBER, JudgmentSection, normalize_case_number, numbered_section
from ingest.cn_numbers import parse_cn_date
from ingest.protocols import SourceText
from ipqa.domain import Chunk, DocKind, Document, Jurisdiction, Language, ParsedDocument, Part
from ipqa.errors import InputError
from ipqa.ids import chunk_id, document_id

# The case number grammar (strict, for a judgment's own number) and the section names are in
# ingest.cn_case, shared with the citation parser.
# Words only a judgment uses about itself (statutes speak of 原告/被告 and 诉讼请求 too).
_JUDGMENT_WORDS = ("本院认为", "判决如下", "裁定如下", "审判长", "书记员", "诉称", "辩称", "经审理查明",
                   "本院查明")
DOCUMENT_TYPES = ("民事判决书", "民事裁定书", "刑事判决书", "刑事裁定书", "行政判决书", "行政裁定书",
                  "民事调解书", "判决书", "裁定书")


def looks_like_cn_judgment(text: str) -> bool:
    """A case number plus at least two words only judgments use (statutes say 当事人, not 原告)."""
    if CASE_NUMBER.search(text) is None:
        return False
    return sum(1 for word in _JUDGMENT_WORDS if word in text) >= 2
DOCUMENT_TYPE_LINE = re.compile(r"^(?:中华人民共和国)?(?:民事|刑事|行政)?(?:判决书|裁定书|调解书)$")

# Section openings by their fixed words, tried in order on the start of each paragraph.
_FIXED_SECTIONS: tuple[tuple[JudgmentSection, re.Pattern[str]], ...] = (
    (JudgmentSection.FIRST_INSTANCE_FACTS, re.compile(r"^一审法院(?:经审理)?(?:查明|认定(?:事实|如下|：|:))")),
    (JudgmentSection.FIRST_INSTANCE_REASONING, re.compile(r"^一审法院认为")),
    (JudgmentSection.FACTS, re.compile(r"^(?:本院)?(?:二审)?(?:经审理)?查明|^本院(?:二审)?认定(?:事实|如下)")),
    (JudgmentSection.REASONING, re.compile(r"^本院认为")),
)
# Submissions open with the party's role or short name ("示例公司上诉请求：", "被告禾青公司辩称："),
# so they are recognised by the verb in the paragraph's lead-in (before the first ：or ，).
_LEAD_IN = re.compile(r"^[^：:，,。]{1,40}")


def _submission_section(paragraph: str, *, appeal: bool) -> JudgmentSection | None:
    lead = _LEAD_IN.match(paragraph)
    if lead is None:
        return None
    head = lead.group(0)
    if "上诉请求" in head or "上诉称" in head:
        return JudgmentSection.APPELLANT
    if "辩称" in head:
        return JudgmentSection.APPELLEE if appeal and not head.startswith("被告") else JudgmentSection.DEFENDANT
    if "述称" in head:
        return JudgmentSection.THIRD_PARTY
    if "诉称" in head or "诉讼请求" in head or "起诉请求" in head:
        return JudgmentSection.PLAINTIFF
    return None


def _section_of(paragraph: str, *, appeal: bool) -> JudgmentSection | None:
    for name, pattern in _FIXED_SECTIONS:
        if pattern.match(paragraph):
            return name
    return _submission_section(paragraph, appeal=appeal)


_ORDER_INTRO = re.compile(r"(?:判决|裁定)如下[：:]?$")
_CLOSING = re.compile(r"^(?:审\s*判\s*长|审\s*判\s*员|代理审判员|人民陪审员|法官助理|书\s*记\s*员|速\s*录\s*员)")
_DATE_LINE = re.compile(r"^[〇零一二三四五六七八九]{4}年[一二三四五六七八九十]{1,2}月[一二三四五六七八九十]{1,3}日$")
_PARTY = re.compile(
    r"^(?:(?:原审)?(?:上诉人|被上诉人|原告|被告|第三人|申请人|被申请人|再审申请人)(?:（[^）]*）)?"
    r"|法定代表人|负责人|诉讼代表人|(?:委托)?(?:诉讼)?代理人|指定代理人|法定代理人)[：:]"
)
_CAUSE = re.compile(r"([\u4e00-\u9fff、]{2,24}?纠纷)")
_COURT = re.compile(r"^[\u4e00-\u9fff（）()]{2,40}法院$")
HISTORY_SECTION = JudgmentSection.HISTORY


@dataclass(frozen=True)
class _Para:
    start: int
    end: int
    text: str


def _paragraphs(text: str) -> list[_Para]:
    paras = []
    offset = 0
    for raw in text.splitlines(keepends=True):
        stripped = raw.strip(" \t\u3000\r\n")
        if stripped and not stripped.startswith("#"):
            start = offset + raw.index(stripped[0])
            paras.append(_Para(start, start + len(stripped), stripped))
        elif stripped.startswith("#"):
            heading = stripped.lstrip("#").strip(" \t\u3000")
            if heading:
                start = offset + raw.index(heading[0])
                paras.append(_Para(start, start + len(heading), heading))
        offset += len(raw)
    return paras


class CnJudgmentParser:
    """TextParser for Chinese court judgments: see the module docstring."""

    name = "cn_judgment"

    def detect(self, source: SourceText) -> bool:
        return looks_like_cn_judgment(source.text[:20_000])

    def parse_text(self, source: SourceText) -> Iterator[ParsedDocument]:
        yield parse_judgment(source)


def parse_judgment(source: SourceText) -> ParsedDocument:
    paras = _paragraphs(source.text)
    if not paras:
        raise InputError(source.path, "empty text: no judgment")
    case_match = next((CASE_NUMBER.search(p.text) for p in paras[:8] if CASE_NUMBER.search(p.text)), None)
    if case_match is None:
        raise InputError(source.path, "no case number such as （2019）最高法知民终123号 in the opening lines")
    # cited in the canonical form the citation parser writes, so that a chunk's citation is its key
    case_number = normalize_case_number(case_match.group(0))
    court = next((p.text for p in paras[:6] if _COURT.match(p.text)), None)
    document_type = next((p.text for p in paras[:6] if DOCUMENT_TYPE_LINE.match(p.text)), None)

    # Everything up to the case-number line is the caption; then parties, history, sections, closing.
    caption_end = next(i for i, p in enumerate(paras) if CASE_NUMBER.search(p.text)) + 1
    # a second-instance (appeal) case has 上诉人/被上诉人 instead of 原告/被告
    appeal = APPEAL_MARK in case_match.group("code")
    parties: list[str] = []
    sections: list[tuple[JudgmentSection, list[_Para]]] = []
    closing: list[str] = []
    in_order = False
    for para in paras[caption_end:]:
        if closing or _CLOSING.match(para.text) or _DATE_LINE.match(para.text):
            closing.append(para.text)
            continue
        if not sections and _PARTY.match(para.text):
            parties.append(para.text)
            continue
        name = None if in_order else _section_of(para.text, appeal=appeal)
        if name is not None:
            sections.append((name, [para]))
        elif not sections:
            sections.append((HISTORY_SECTION, [para]))
        else:
            sections[-1][1].append(para)
        order_intro = None if in_order else _ORDER_INTRO.search(para.text)
        if order_intro:
            in_order = True
            sections.append((JudgmentSection(order_intro.group(0).rstrip("：:")), []))  # 判决如下 / 裁定如下
    sections = [(name, body) for name, body in sections if body]
    if not any(name != HISTORY_SECTION for name, _ in sections):
        raise InputError(source.path, "no judgment sections (本院认为, 判决如下…) found")

    history_text = "\n".join(body[0].text for name, body in sections if name == HISTORY_SECTION)
    cause_match = _CAUSE.search(history_text) or _CAUSE.search(source.text)
    cause = cause_match.group(1) if cause_match else None
    # The cause is the shortest "…纠纷" phrase after 因/与…: strip party names before 因 if present.
    if cause and "因" in cause:
        cause = cause.rsplit("因", 1)[1]
    version = _judgment_date(closing)
    title = f"{case_number} {cause}" if cause else f"{case_number} {court or document_type or ''}".strip()
    metadata = {
        "court": court,
        "case_number": case_number,
        "cause_of_action": cause,
        "document_type": document_type,
        "parties": parties,
        "closing": closing,
    }
    doc_id = document_id(DocKind.JUDGMENT, Jurisdiction.CN, title, version, source.text)
    document = Document(
        id=doc_id, kind=DocKind.JUDGMENT, jurisdiction=Jurisdiction.CN, title=title, language=Language.ZH,
        source_path=source.path, version=version, metadata=metadata,
    )
    chunks = []
    seen: dict[str, int] = {}
    for name, body in sections:
        seen[name] = seen.get(name, 0) + 1
        label = numbered_section(str(name), seen[name])
        chunks.append(_section_chunk(source, document, case_number, label, body, len(chunks)))
    return ParsedDocument(document=document, chunks=tuple(chunks))


def _judgment_date(closing: list[str]) -> str | None:
    for line in closing:
        if _DATE_LINE.match(line):
            return parse_cn_date(line)
    return None


def _section_chunk(
    source: SourceText, document: Document, case_number: str, label: str, body: list[_Para], ordinal: int
) -> Chunk:
    parts = []
    offset = 0
    for number, para in enumerate(body, start=1):
        parts.append(Part(f"¶ {number}", offset, offset + len(para.text)))
        offset += len(para.text) + 1
    text = "\n".join(p.text for p in body)
    citation = f"{case_number} {label}"
    span = (body[0].start, body[-1].end)
    return Chunk(
        id=chunk_id(document.id, citation, text), document_id=document.id, text=text, citation=citation,
        unit="judgment_part", language=Language.ZH, hierarchy=(case_number, label), span=span,
        page=source.page_at(span[0]) if source.pages else None, parts=tuple(parts), ordinal=ordinal,
        metadata={"section": label, "court": document.metadata.get("court"), "case_number": case_number},
    )
