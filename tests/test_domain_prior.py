"""The field-of-law model, the domain prior, and the reranker's field gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factories import make_chunk, make_hit
from ipqa.errors import ConfigError
from rag.domain_prior import DomainPrior, DomainPriorOptions, asks_about_a_patent_document, is_local_rule
from rag.fields import FieldModel, field_of_law


def test_fields_of_laws() -> None:
    assert field_of_law("中华人民共和国专利法实施细则", category="行政法规") == "patent"
    assert field_of_law("最高人民法院关于审理商标民事纠纷案件适用法律若干问题的解释", category="司法解释") == "trademark"
    assert field_of_law("计算机软件保护条例", category="行政法规") == "copyright"
    assert field_of_law("最高人民法院关于审理侵犯商业秘密民事案件适用法律若干问题的规定", category="司法解释") \
        == "unfair_competition"
    assert field_of_law("最高人民法院关于办理盗窃刑事案件适用法律若干问题的解释", category="司法解释") == "criminal"
    assert field_of_law("中华人民共和国劳动合同法", category="社会法") == "social"
    assert field_of_law("35 U.S.C.", citation="35 U.S.C. § 271") == "patent"
    assert field_of_law("15 U.S.C. ch. 22", citation="15 U.S.C. § 1125") == "trademark"
    assert field_of_law("Bicycle brake", kind="patent") == "patent"
    # a chunk's field without its document: the same as the field model was trained with
    from rag.fields import field_of_chunk

    assert field_of_chunk(make_chunk("US 2001/0000044 A1, ¶ [0003]", language="en")) == "patent"


def _model() -> FieldModel:
    rows = [("zh", "patent", ["专利", "发明", "年费", "专利权"]), ("zh", "patent", ["专利权", "终止", "年费"]),
            ("zh", "trademark", ["商标", "注册", "续展"]), ("zh", "trademark", ["注册商标", "商品"]),
            ("zh", "civil", ["合同", "债务", "期限"]), ("zh", "civil", ["合同", "违约"]),
            ("en", "patent", ["patent", "claim"]), ("en", "copyright", ["work", "author"])]
    return FieldModel.fit(rows, min_count=1)


def test_field_model_reads_the_field_from_question_words(tmp_path: Path) -> None:
    model = _model()
    posterior = model.posterior(["年费", "专利权", "期限"], "zh")
    assert max(posterior, key=posterior.get) == "patent"
    assert abs(sum(posterior.values()) - 1) < 1e-9
    assert set(model.posterior(["author"], "en")) == {"patent", "copyright"}  # per-language fields
    assert model.posterior(["无关"], "zh") == pytest.approx({f: 1 / 3 for f in ("civil", "patent", "trademark")})
    assert model.posterior(["x"], "fr") == {}
    loaded = FieldModel.load(model.save(tmp_path).parent)
    assert loaded.posterior(["商标", "续展"], "zh") == pytest.approx(model.posterior(["商标", "续展"], "zh"))


def test_field_model_refuses_other_formats(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run `ipqa train fields`"):
        FieldModel.load(tmp_path)
    (tmp_path / "fields.json").write_text(json.dumps({"format": 0}))
    with pytest.raises(ConfigError, match="format 0"):
        FieldModel.load(tmp_path)


def _hit(citation: str, rank: int, score: float, **metadata):
    return make_hit(make_chunk(citation, metadata=metadata), rank=rank, score=score)


def test_domain_prior_prefers_the_field_and_national_law() -> None:
    prior = DomainPrior(_model(), DomainPriorOptions(field_weights={"zh": 0.02}, local_penalty=0.01))
    hits = [_hit("合同法 第一条", 1, 0.016, law_title="中华人民共和国合同法", category="民法商法"),
            _hit("山东省专利条例 第二条", 2, 0.0159, law_title="山东省专利条例", category="地方性法规"),
            _hit("专利法 第四十四条", 3, 0.0158, law_title="中华人民共和国专利法", category="民法商法")]
    posterior = prior.field_posterior("专利 年费 忘了交", "zh")
    ranked = prior.apply("专利年费忘了交怎么办", posterior, hits)
    # the Patent Law first; a local patent rule still above a contract article, but below the national law
    assert [h.chunk.citation for h in ranked] == ["专利法 第四十四条", "山东省专利条例 第二条", "合同法 第一条"]
    assert [h.rank for h in ranked] == [1, 2, 3]
    assert ranked[0].component_scores["field_prior"] > 0.5
    # a question that names a place keeps its local rules where the text puts them
    placed = prior.apply("山东省的专利年费忘了交怎么办", posterior, hits)
    assert [h.chunk.citation for h in placed][:2] == ["山东省专利条例 第二条", "专利法 第四十四条"]


def test_patent_text_yields_to_statutes_unless_the_question_is_about_a_patent() -> None:
    prior = DomainPrior(None, DomainPriorOptions(patent_text_penalty=0.01))
    hits = [_hit("US 8,927,118 B2, ¶ [0002]", 1, 0.0164), _hit("35 U.S.C. § 101", 2, 0.0161),
            _hit("US 2001/0000044 A1, ¶ [0003]", 3, 0.0163)]
    legal = prior.apply("Can I patent a business method?", {}, hits)
    assert legal[0].chunk.citation == "35 U.S.C. § 101"  # above granted patents and published applications
    about_patent = prior.apply("What does claim 1 of the brake patent cover?", {}, hits)
    assert about_patent[0].chunk.citation.startswith("US 8,927,118")
    assert asks_about_a_patent_document("Which embodiments are shown in FIG. 2?")
    assert not asks_about_a_patent_document("Is a business method patentable?")


def test_local_rules_are_told_by_category_or_title() -> None:
    assert is_local_rule(make_chunk("宁波市专利管理条例 第八条", metadata={"law_title": "宁波市专利管理条例"}))
    assert is_local_rule(make_chunk("x 第一条", metadata={"law_title": "x", "category": "地方性法规"}))
    assert not is_local_rule(make_chunk("专利法 第一条", metadata={"law_title": "中华人民共和国专利法"}))


def test_options_name_a_bad_weight() -> None:
    with pytest.raises(ConfigError, match="field weight of 'zh' must be >= 0, got -1"):
        DomainPriorOptions(field_weights={"zh": -1})


def test_the_field_to_search_is_the_likeliest_when_likely_enough() -> None:
    from rag.fields import titles_by_field

    prior = DomainPrior(None, DomainPriorOptions(field_search_threshold=0.3))
    assert prior.field_to_search({"patent": 0.4, "civil": 0.35, "trademark": 0.25}) == "patent"
    assert prior.field_to_search({"patent": 0.25, "civil": 0.25, "trademark": 0.25, "copyright": 0.25}) is None
    assert prior.field_to_search({}) is None
    titles = titles_by_field(["中华人民共和国专利法", "专利代理条例", "中华人民共和国商标法", "中华人民共和国民法典"])
    assert titles == {"patent": frozenset({"中华人民共和国专利法", "专利代理条例"}),
                      "trademark": frozenset({"中华人民共和国商标法"})}
    with pytest.raises(ConfigError, match="field_search_threshold must be in"):
        DomainPriorOptions(field_search_threshold=0)
