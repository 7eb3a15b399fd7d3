"""Lay questions with gold articles of the index test corpus (tests/index_corpus.py), and the LTR
reranker trained on them: shared by the reranker tests and the reranker/retriever contract suites."""

from __future__ import annotations

from rag.rerank.features import QueryFeatureExtractor
from rag.rerank.ltr import LtrModel
from rag.train import CvOptions, TrainingQuestion, first_stage_retriever, prepare, train_final

ART_11 = "cn|专利法|第十一条"
ART_22 = "cn|专利法|第二十二条"
COPY_10 = "cn|著作权法|第十条"
# Lay wording that never occurs in the statutes: only past questions connect it to the articles.
TRAINING = [
    ("有人山寨我的产品怎么办", [ART_11]), ("工厂仿冒山寨货侵权吗", [ART_11]), ("对手山寨抄袭我家机器", [ART_11]),
    ("网上有人盗版我的小说", [COPY_10]), ("小说被盗版转载怎么维权", [COPY_10]), ("盗版书籍谁负责", [COPY_10]),
    ("我的点子够不够新能不能拿证", [ART_22]), ("发明要多新才能拿证", [ART_22]), ("拿证需要什么条件", [ART_22]),
]


def training_questions() -> list[TrainingQuestion]:
    return [TrainingQuestion(str(i), q, tuple(gold)) for i, (q, gold) in enumerate(TRAINING)]


def train_ltr(snapshot) -> LtrModel:
    """The final LTR model trained on :data:`TRAINING` over ``snapshot`` (a build of the index corpus)."""
    retriever = first_stage_retriever(snapshot, candidates=20)
    extractor = QueryFeatureExtractor(snapshot.store, snapshot)
    prepared = prepare(training_questions(), retriever, extractor)
    return train_final(prepared, snapshot.store, extractor, CvOptions(neighbours=3, association_candidates=3),
                       {"dataset": "inline"})
