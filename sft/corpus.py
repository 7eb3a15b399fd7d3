"""Reading the index for data building: statutes (newest version of each, IP laws first), patents,
judgments, and citation resolution."""

from __future__ import annotations

import re
from typing import Iterator

from indexes.protocols import SearchFilters
from ipqa.domain import Chunk, Document

# Law titles that are about intellectual property; their articles come first when a direction is capped.
IP_TITLE = re.compile(r"专利|商标|著作权|版权|知识产权|不正当竞争|布图设计|植物新品种|计算机软件|信息网络传播|"
                      r"商业秘密|地理标志|特殊标志|奥林匹克标志|技术合同|U\.S\.C|Patent|Copyright|Trademark")


def is_ip_title(title: str) -> bool:
    return bool(IP_TITLE.search(title))


def documents(store, filters: SearchFilters, *, page: int = 500) -> Iterator[Document]:
    offset = 0
    while True:
        batch = store.documents(offset=offset, limit=page, filters=filters)
        yield from batch
        if len(batch) < page:
            return
        offset += page


def newest_statutes(store, *, jurisdiction: str) -> list[Document]:
    """The newest version of each statute of ``jurisdiction``, IP laws first, then by title (stable)."""
    newest: dict[str, Document] = {}
    filters = SearchFilters(kinds=frozenset({"statute"}), jurisdictions=frozenset({jurisdiction}))
    for document in documents(store, filters):
        held = newest.get(document.title)
        if held is None or (document.version or "") > (held.version or ""):
            newest[document.title] = document
    return sorted(newest.values(), key=lambda d: (not is_ip_title(d.title), d.title))


def chunks_of(store, document: Document) -> list[Chunk]:
    return store.chunks_of_document(document.id)


def resolve_gold(name: str, store) -> Chunk | None:
    """The newest chunk a gold citation (``中华人民共和国民法典第五十四条``) names, or None."""
    from ingest.citations import resolve

    resolutions = resolve(name, store)
    return resolutions[0].chunk if resolutions else None


def short_law_name(title: str) -> str:
    """``中华人民共和国专利法`` -> ``专利法`` (how questions and citations name it)."""
    return title.removeprefix("中华人民共和国")
