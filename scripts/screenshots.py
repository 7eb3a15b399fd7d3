"""Screenshots of the web page for the docs: ``python scripts/screenshots.py [--out docs/screenshots]``.

Builds a small index in a temporary directory (the Chinese patent, trademark and copyright laws and
35 U.S.C. from ../shared/data, or examples/corpus when that is absent) with the configured embedder,
serves it on 127.0.0.1, and drives the page in Debian's headless Chromium (Playwright, the system
binary): a two-turn conversation with a citation opened in the unit view, and a filtered search
in the English interface.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

STATUTES = ("cn-law/民法商法/专利法(2020-10-17).md", "cn-law/民法商法/商标法(2019-04-23).md",
            "cn-law/民法商法/著作权法(2020-11-11).md", "us-law/usc35.xml")


def sources(shared: Path) -> list[Path]:
    found = [shared / s for s in STATUTES if (shared / s).is_file()]
    return found or [REPO / "examples" / "corpus"]


def serve(app) -> tuple[str, object]:  # type: ignore[no-untyped-def]
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    from api.app import create_app
    from browser_fixtures import launch
    from indexes.build import BuildOptions, build_version
    from indexes.embedder import configured_embedder
    from ipqa.settings import Settings
    from playwright.sync_api import sync_playwright

    data_dir = Path(tempfile.mkdtemp(prefix="ipqa-screens-"))
    settings = Settings(data_dir=data_dir)
    build_version(settings.index_root, sources(settings.shared_data), embedder=configured_embedder(settings),
                  options=BuildOptions.from_settings(settings))
    url, server = serve(create_app(settings))
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
            page.goto(url + "/?lang=zh")
            for question in ("注册商标的有效期是多久？", "到期了忘了续展怎么办？"):
                page.fill("#question", question)
                page.click("#ask-button")
                page.locator(".turn").last.locator(".answer.done").wait_for(timeout=60_000)
            page.locator(".turn").last.locator("a.cite.status-verified").first.click()
            page.locator("#unit mark#quoted").wait_for()
            page.screenshot(path=str(args.out / "conversation-zh.png"), full_page=True)

            page.goto(url + "/?lang=en")
            page.click("#tab-search")
            page.fill("#query", "infringement by supplying components of a patented invention abroad")
            page.select_option("#filter-jurisdiction", "US")
            page.select_option("#filter-kind", "statute")
            page.click("#search-button")
            page.locator("#hits .hit").first.wait_for()
            page.locator("#hits .hit .hit-citation").first.click()
            page.locator("#unit .unit-view").wait_for()
            page.screenshot(path=str(args.out / "search-en.png"))
            browser.close()
    finally:
        server.should_exit = True  # type: ignore[attr-defined]
    print(f"screenshots written to {args.out}")


if __name__ == "__main__":
    main()
