"""Articles aligned across two versions of a law by their text (issue 13, article history)."""

from __future__ import annotations

from ingest.article_alignment import ArticleLink, Relation, UnitText, align_articles, bigrams

# Distinct provisions, each long enough to have its own vocabulary.
A = "国务院专利行政部门负责管理全国的专利工作，统一受理和审查专利申请，依法授予专利权。"
B = "申请专利的发明创造在中国完成的，应当先报经国务院专利行政部门进行保密审查。"
C = "在无效宣告请求的审查过程中，专利权人可以修改其权利要求书，但是不得扩大原专利的保护范围。"
D = "专利权人应当自被授予专利权的当年开始缴纳年费，期满未缴纳的，专利权终止。"
E = "当事人因不可抗拒的事由而延误期限，导致其权利丧失的，可以请求恢复权利。"
F = "违反本细则规定泄露国家秘密的，由所在单位或者上级主管机关给予行政处分。"
G = "本细则自公布之日起施行，原细则同时废止，此前的规定与本细则不一致的，以本细则为准。"
X = "专利代理师应当按照委托人的委托，在委托权限范围内办理专利申请或者其他专利事务。"


def _units(*texts: str) -> list[UnitText]:
    from ingest.cn_numbers import int_to_cn

    return [UnitText(f"第{int_to_cn(i)}条", text) for i, text in enumerate(texts, 1)]


def _pairs(links: tuple[ArticleLink, ...]) -> set[tuple[int | None, int | None, Relation]]:
    return {(link.old, link.new, link.relation) for link in links}


def test_an_insertion_renumbers_what_follows_and_the_articles_stay_linked():
    old, new = _units(A, B, C, D), _units(A, X, B, C, D)
    links = align_articles(old, new)
    assert _pairs(links) == {(0, 0, Relation.SAME), (None, 1, Relation.INSERTED), (1, 2, Relation.SAME),
                             (2, 3, Relation.SAME), (3, 4, Relation.SAME)}
    renumbered = {(link.old, link.new) for link in links if link.renumbered}
    assert renumbered == {(1, 2), (2, 3), (3, 4)}


def test_a_reworded_article_is_amended_and_a_dropped_one_deleted():
    reworded_c = C.replace("专利权人可以修改其权利要求书", "专利权人可以修改其权利要求书，国务院专利行政部门应当公告修改后的权利要求")
    links = align_articles(_units(A, B, C, D), _units(A, reworded_c, D))
    assert _pairs(links) == {(0, 0, Relation.SAME), (1, None, Relation.DELETED), (2, 1, Relation.AMENDED),
                             (3, 2, Relation.SAME)}
    amended = next(link for link in links if link.relation is Relation.AMENDED)
    assert 0.5 < amended.similarity < 1


def test_boilerplate_against_the_order_is_not_paired_but_a_real_move_is():
    # F moves from the end to the front (nearly the same text): a move; the order of the rest holds
    links = align_articles(_units(A, B, C, D, F), _units(F.replace("行政处分", "处分"), A, B, C, D))
    assert (4, 0, Relation.MOVED) in _pairs(links)
    assert {(0, 1), (1, 2), (2, 3), (3, 4)} <= {(link.old, link.new) for link in links}


def test_an_article_split_in_two_links_both_parts_to_it():
    old = _units(A, D + E, F)
    links = align_articles(old, _units(A, D, E, F))
    pairs = _pairs(links)
    # the closer part continues the article (amended), the other is split off it
    assert {(1, 1, Relation.AMENDED), (1, 2, Relation.SPLIT)} <= pairs or {(1, 2, Relation.AMENDED),
                                                                           (1, 1, Relation.SPLIT)} <= pairs
    assert (0, 0, Relation.SAME) in pairs and (2, 3, Relation.SAME) in pairs


def test_two_articles_merged_into_one_link_both_to_it():
    pairs = _pairs(align_articles(_units(A, D, E, F), _units(A, D + E, F)))
    assert {(1, 1, Relation.AMENDED), (2, 1, Relation.MERGED)} <= pairs or {(2, 1, Relation.AMENDED),
                                                                           (1, 1, Relation.MERGED)} <= pairs
    assert (3, 2, Relation.SAME) in pairs


def test_unrelated_articles_are_not_paired_even_in_order():
    pairs = _pairs(align_articles(_units(A, B, G), _units(A, X, G)))
    assert (1, None, Relation.DELETED) in pairs and (None, 1, Relation.INSERTED) in pairs
    assert (1, 1, Relation.AMENDED) not in pairs


def test_every_article_of_both_versions_is_covered_and_empty_versions_work():
    old, new = _units(A, B, C), _units(C, D)
    links = align_articles(old, new)
    assert {link.old for link in links if link.old is not None} == {0, 1, 2}
    assert {link.new for link in links if link.new is not None} == {0, 1}
    assert _pairs(align_articles([], _units(A))) == {(None, 0, Relation.INSERTED)}
    assert _pairs(align_articles(_units(A), [])) == {(0, None, Relation.DELETED)}


def test_similarity_ignores_punctuation_and_spacing():
    assert bigrams("专利，权人") == bigrams("专利 权人。")


def test_an_article_kept_as_one_paragraph_of_a_much_longer_one_is_linked():
    long_new_paragraphs = (B + D + E + F + X + G.replace("本细则", "本办法")).replace("。", "；")  # new text around it
    old, new = _units(A, C, G), _units(A, C + "\n" + long_new_paragraphs, G)
    links = align_articles(old, new)
    kept = next(link for link in links if link.old == 1)
    assert kept.new == 1 and kept.relation is Relation.AMENDED and kept.similarity < 0.35  # Dice alone misses it


def test_left_overs_against_the_order_pair_only_when_nearly_the_same():
    reworded_b = B.replace("应当先报经", "应当事先报请")  # Dice ~0.8 with B
    unrelated = "国家鼓励高等学校和科研机构开展专利转化运用，促进科技成果的产业化。"
    links = align_articles(_units(A, B, C, D, E), _units(reworded_b, A, C, D, E))
    assert (1, 0, Relation.MOVED) in _pairs(links)
    far = align_articles(_units(A, B, C, D, E), _units(unrelated, A, C, D, E))
    assert (1, None, Relation.DELETED) in _pairs(far) and (None, 0, Relation.INSERTED) in _pairs(far)
