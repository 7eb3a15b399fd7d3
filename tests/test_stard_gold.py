"""Every STARD gold article resolves to exactly one chunk per law version, with the gold text in at
least one version. The only exceptions allowed are the dataset's own truncated gold texts (its
splitter cut articles before a 款 starting with 第, e.g. 民法典第六百八十五条 ``第三人单方…``)."""

import pytest

from ingest.citation_gold import check_gold, load_rows

pytestmark = [pytest.mark.shared, pytest.mark.slow]


@pytest.fixture(scope="module")
def report(shared_data):
    rows = load_rows(shared_data / "evals" / "stard-train.jsonl")
    return check_gold(rows, shared_data / "cn-law")


def test_every_gold_article_resolves_to_its_text(report):
    assert report.questions == 1235
    assert len(report.results) == 1258
    assert report.parse_errors == []
    unexplained = [(r.name, r.problem) for r in report.unexplained()]
    assert unexplained == []
    assert report.rate >= 0.99


def test_exceptions_are_only_truncated_gold_texts(report):
    explained = report.failures()
    assert len(explained) <= 8
    assert all("first 款" in r.problem for r in explained)


def test_multi_version_articles_match_some_version(report):
    multi = [r for r in report.results.values() if len(r.versions) > 1]
    assert multi, "the gold set cites laws with several versions (民事诉讼法, 公司法…)"
    assert all(r.matching_versions for r in multi if r.ok)
    company = report.results["公司法第十六条"]
    assert company.versions == ("2023-12-29", "2018-10-26")
    assert company.matching_versions == ("2018-10-26",)  # STARD quotes the 2018 Company Law
