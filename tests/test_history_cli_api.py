"""``ipqa history`` and ``GET /v1/citations/history`` over an index of the example corpus plus an
older version of its statute (示例知识产权保护条例 2019, renumbered by the 2024 version)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from api_fixtures import READ, assert_problem, make_settings, serve, services_factory
from typer.testing import CliRunner

from ipqa.cli import build_app

LAW = "示例知识产权保护条例"
OLDER = f"""# {LAW}

2018年11月20日 示例市人民代表大会常务委员会通过（本条例为演示用虚构文本，不具有法律效力）

<!-- INFO END -->

## 第一章 总则

第一条 为了加强知识产权保护，激励创新，维护公平竞争的市场秩序，结合本市实际，制定本条例。

第二条 本条例适用于本市行政区域内专利、商标、著作权以及商业秘密等知识产权的保护及相关管理服务活动。

第三条 知识产权保护坚持严格保护、统筹协调、重点突破、同等保护的原则。

## 第二章 保护措施

第四条 知识产权保护部门应当建立知识产权侵权投诉受理机制，对专利权、注册商标专用权和著作权的侵权投诉及时处理。

第五条 展会举办单位应当在展会期间设立知识产权投诉站，协助权利人依照本条例第四条的规定提出投诉。

第六条 电子商务平台经营者接到权利人发出的侵权通知后，应当及时采取删除、屏蔽、断开链接等必要措施。

第七条 知识产权保护部门处理专利侵权纠纷，认定侵权行为成立的，可以责令侵权人立即停止侵权行为。

## 第三章 法律责任

第八条 知识产权保护部门工作人员在知识产权保护工作中滥用职权、玩忽职守、徇私舞弊的，依法给予行政处分。

第九条 本条例自2019年1月1日起施行。
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, examples_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("history-corpus")
    shutil.copytree(examples_dir / "cn", root / "cn")
    (root / "cn" / f"{LAW}(2018-11-20).md").write_text(OLDER, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def settings(tmp_path_factory, tiny_embedder_dir: Path, corpus: Path):
    from indexes.build import build_version
    from indexes.embedder import create_embedder
    from rag.compose import build_options

    settings = make_settings(tmp_path_factory.mktemp("history-var"), tiny_embedder_dir, corpus)
    build_version(settings.index_root, [corpus], embedder=create_embedder(settings.embedder, device="cpu"),
                  options=build_options(settings))
    return settings


def _cli(settings, *args: str):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IPQA_DATA_DIR", str(settings.data_dir))
        mp.setenv("IPQA_EMBEDDER", str(settings.embedder))
        return CliRunner().invoke(build_app(), list(args), catch_exceptions=True)


def test_history_json_names_the_current_article_and_the_diff(settings):
    result = _cli(settings, "history", f"{LAW}（2018）第六条", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["citation"] == f"{LAW}（2018）第六条"
    assert data["current"] == [f"{LAW} 第七条"]
    old, new = data["versions"]
    assert (old["effective"], old["in_force_until"], old["current"]) == ("2019-01-01", "2024-01-01", False)
    assert new["current"] is True
    unit = new["units"][0]
    assert unit["relation"] == "amended" and unit["renumbered"] is True
    assert unit["came_from"] == [f"{LAW}（2018）第六条"]
    assert "{+，并将通知转送平台内经营者" in unit["diff_text"]


def test_history_text_output_and_the_previous_version_qualifier(settings):
    result = _cli(settings, "history", f"原{LAW}第五条")
    assert result.exit_code == 0, result.output
    assert f"{LAW}（2018）第五条" in result.stdout and f"{LAW} 第六条" in result.stdout
    assert "(in force today)" in result.stdout and "renumbered" in result.stdout


def test_history_of_a_version_that_does_not_exist_lists_the_versions(settings):
    result = _cli(settings, "history", f"{LAW}（2015）第五条")
    from ipqa.errors import InputError

    assert isinstance(result.exception, InputError)  # the `ipqa` entry point prints it and exits 2
    message = str(result.exception)
    assert message.startswith("citation: ") and "2024-01-01, 2018-11-20" in message and "not in 2015" in message


@pytest.fixture(scope="module")
def reader(settings) -> Iterator[httpx.Client]:
    for server in serve(settings, services_factory=services_factory(settings)):
        with server.client(headers=READ) as client:
            yield client


def test_history_endpoint(reader: httpx.Client):
    response = reader.get("/v1/citations/history", params={"citation": f"{LAW}（2018）第八条"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["current"] == [f"{LAW} 第十三条"] and body["index_version"]
    unit = body["versions"][1]["units"][0]
    assert unit["diff"] and {"op", "old", "new"} == set(unit["diff"][0])
    assert "".join(d["new"] for d in unit["diff"]) == unit["text"]


@pytest.mark.parametrize("citation, words", [(f"{LAW}（2015）第五条", "2018-11-20"),
                                             ("不是引用的文字", "不是引用的文字"),
                                             (f"{LAW}第九十九条", "第九十九条")])
def test_history_endpoint_404_says_why(reader: httpx.Client, citation: str, words: str):
    problem = assert_problem(reader.get("/v1/citations/history", params={"citation": citation}), 404)
    assert words in problem["detail"]


def test_history_endpoint_needs_a_citation(reader: httpx.Client):
    assert_problem(reader.get("/v1/citations/history"), 422)


def test_an_answer_citing_a_superseded_version_names_the_current_article(settings):
    question = "展会举办单位应当在展会期间设立什么？"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IPQA_GENERATOR", "extractive")
        result = _cli(settings, "ask", question, "--as-of", "2020-06-01", "--json")
    assert result.exit_code == 0, result.output
    cited = {c["chunk_id"]: c for c in json.loads(result.stdout)["citations"] if c["verified"]}
    assert cited, result.stdout
    fair = [c for c in cited.values() if "展会" in c["quoted_span"]]
    assert fair and fair[0]["current"] == [f"{LAW} 第六条"]
    assert f"现行对应条文为 {LAW} 第六条" in fair[0]["note"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IPQA_GENERATOR", "extractive")
        today = _cli(settings, "ask", question, "--json")
    assert all(c["current"] is None and c["note"] is None for c in json.loads(today.stdout)["citations"])


def test_the_api_answer_carries_the_note(reader: httpx.Client):
    body = reader.post("/v1/ask", json={"question": "展会举办单位应当在展会期间设立什么？", "as_of": "2020-06-01"}).json()
    notes = [c for c in body["citations"] if c["note"]]
    assert notes and notes[0]["current"] == [f"{LAW} 第六条"]


def test_the_web_unit_view_shows_the_history_with_the_diff(reader: httpx.Client):
    history = reader.get("/v1/citations/history", params={"citation": f"{LAW}（2018）第六条"}).json()
    old_id = history["versions"][0]["units"][0]["chunk_id"]
    new_id = history["versions"][1]["units"][0]["chunk_id"]
    page = reader.get(f"/web/units/{old_id}", params={"lang": "en"})
    assert page.status_code == 200, page.text
    html = page.text
    assert "History (the corresponding article in each version)" in html
    assert f'data-unit="{new_id}"' in html and f"{LAW} 第七条" in html  # a link to the current article
    assert "in force today" in html and "amended, renumbered" in html
    assert "<ins>" in html and "平台内经营者" in html
    # newest version first
    assert html.index('data-version="2024-01-01"') < html.index('data-version="2018-11-20"')


def test_a_search_or_question_citing_a_version_the_index_lacks_is_still_answered(settings, reader):
    # (the law may have had that version; the index does not hold it: nothing is put first, the
    # question is ranked as usual, and `ipqa history` / the resolver say which versions exist)
    result = _cli(settings, "search", f"{LAW}（2015）第五条 展会 投诉站", "--json")
    assert result.exit_code == 0, result.output
    assert all(h["source"] != "cited" for h in json.loads(result.stdout))
    asked = reader.post("/v1/ask", json={"question": f"原{LAW}第九十九条是怎么规定展会投诉站的？"})
    assert asked.status_code == 200, asked.text
    resolved = reader.get("/v1/citations/resolve", params={"q": f"{LAW}（2015）第五条"})
    assert resolved.status_code == 404 and "2018-11-20" in resolved.json()["detail"]
