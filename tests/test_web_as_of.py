"""The web page's date field (issue 13) in a real headless Chromium against a REAL uvicorn server
over the example corpus and two versions of one fictional law: the search and ask forms send the
date, the date is kept in the URL (a result is a shareable link) and shown with the results, and a
bad or future date is a clear error on the page, never a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from api_fixtures import LiveServer, make_settings, serve, services_factory
from browser_fixtures import chromium_browser
from test_as_of_serving import build_versioned_index
from versioned_corpus import NEW_BODY, OLD_BODY, QUESTION, TITLE, write_versioned_law

pytestmark = pytest.mark.browser

QUERY = "请求宣告专利权无效 无效宣告请求书"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_embedder_dir: Path, examples_dir: Path
           ) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("web-as-of")
    settings = make_settings(root / "var", tiny_embedder_dir, examples_dir, api_keys=[])
    build_versioned_index(settings, examples_dir, write_versioned_law(root / "law"))
    yield from serve(settings, services_factory=services_factory(settings))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from chromium_browser()


@pytest.fixture()
def context(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    context.on("page", lambda page: page.on("pageerror", lambda error: errors.append(str(error))))
    yield context
    context.close()
    assert errors == [], errors  # no script error on the way


def _hit_texts(page) -> str:  # type: ignore[no-untyped-def]
    page.locator("#search-as-of-note").filter(has_text="适用版本").wait_for()
    return " ".join(page.locator("#hits .hit-text").all_inner_texts())


def test_a_dated_search_shows_the_version_then_in_force_and_its_link_shows_it_again(context, server: LiveServer
                                                                                   ) -> None:  # type: ignore[no-untyped-def]
    page = context.new_page()
    page.goto(server.url + "/")
    page.click("#tab-search")
    page.fill("#query", QUERY)
    page.fill("#search-as-of", "2015-06-01")
    page.select_option("#filter-kind", "statute")
    page.click("#search-button")
    texts = _hit_texts(page)
    assert OLD_BODY in texts and NEW_BODY not in texts
    assert page.locator("#search-as-of-note").inner_text() == "适用版本：2015-06-01 时有效"
    # the superseded version is cited with its version, in the list and in the unit view
    assert page.locator("#hits .hit-citation").first.inner_text() == f"{TITLE}（2010）第二条"
    page.locator("#hits .hit-citation").first.click()
    page.locator("#unit .unit-citation", has_text=f"{TITLE}（2010）第二条").wait_for()
    params = parse_qs(urlparse(page.url).query)
    assert params["as_of"] == ["2015-06-01"] and params["q"] == [QUERY] and params["tab"] == ["search"]
    assert params["kind"] == ["statute"]
    # the link is the result: opened elsewhere, it runs the same search with the same date and filters
    shared = context.new_page()
    shared.goto(page.url)
    assert shared.locator("#search-as-of").input_value() == "2015-06-01"
    assert shared.locator("#filter-kind").input_value() == "statute"
    assert _hit_texts(shared) == texts
    # no date: the law in force today
    page.fill("#search-as-of", "")
    page.click("#search-button")
    page.locator("#search-as-of-note", has_text="现行有效").wait_for()
    texts = _hit_texts(page)
    assert NEW_BODY in texts and OLD_BODY not in texts
    assert page.locator("#hits .hit-citation").first.inner_text() == f"{TITLE} 第二条"
    assert "as_of" not in parse_qs(urlparse(page.url).query)


def test_a_dated_question_is_answered_from_the_version_then_in_force(context, server: LiveServer
                                                                     ) -> None:  # type: ignore[no-untyped-def]
    page = context.new_page()
    page.goto(server.url + "/?as_of=2015-06-01")
    assert page.locator("#ask-as-of").input_value() == "2015-06-01"
    page.fill("#question", QUESTION)
    page.click("#ask-button")
    turn = page.locator(".turn").last
    turn.locator(".answer.done").wait_for(timeout=30_000)
    assert OLD_BODY in turn.locator(".answer").inner_text()
    assert turn.locator(".as-of-note").inner_text() == "适用版本：2015-06-01 时有效"
    # the cited version is not in force today: the citation says so and names the current article
    note = turn.locator(".citations .superseded-note").first
    assert f"{TITLE}（2010）第二条" in note.inner_text() and f"{TITLE} 第二条" in note.inner_text()
    params = parse_qs(urlparse(page.url).query)
    assert params["as_of"] == ["2015-06-01"] and params["question"] == [QUESTION]


@pytest.mark.parametrize("as_of, problem", [("2015-02-30", "not a date"), ("2999-01-01", "in the future")])
def test_a_bad_date_in_the_link_is_said_on_the_page(context, server: LiveServer, as_of: str,
                                                    problem: str) -> None:  # type: ignore[no-untyped-def]
    page = context.new_page()
    response = page.goto(f"{server.url}/?tab=search&q=%E4%B8%93%E5%88%A9&as_of={as_of}")
    assert response.status == 422
    error = page.locator("#as-of-error")
    assert "日期无效" in error.inner_text() and problem in error.inner_text()
    assert page.locator("#search-as-of").input_value() == ""  # nothing searched with a date not understood
    assert page.locator("#hits .hit").count() == 0


def test_a_future_date_typed_into_a_form_is_a_clear_error(context, server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    page = context.new_page()
    page.goto(server.url + "/")
    page.click("#tab-search")
    page.fill("#query", QUERY)
    page.fill("#search-as-of", "2999-01-01")
    page.click("#search-button")
    page.wait_for_function("document.querySelector('#search-summary').textContent.includes('in the future')")
    assert page.locator("#search-summary").inner_text().startswith("出错了: ")
    page.click("#tab-ask")
    page.fill("#question", QUESTION)
    page.fill("#ask-as-of", "2999-01-01")
    page.click("#ask-button")
    page.locator(".turn .answer.failed").wait_for()
    assert "in the future" in page.locator(".turn .answer").inner_text()


def test_a_linked_question_is_filled_in_but_asked_only_on_a_click(context, server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import quote

    page = context.new_page()
    page.goto(f"{server.url}/?question={quote(QUESTION)}&as_of=2015-06-01")
    assert page.locator("#question").input_value() == QUESTION
    assert page.locator("#ask-as-of").input_value() == "2015-06-01"
    page.wait_for_timeout(500)
    assert page.locator(".turn").count() == 0  # nothing was asked
    page.click("#ask-button")
    page.locator(".turn .answer.done").wait_for(timeout=30_000)
