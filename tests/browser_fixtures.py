"""A real headless Chromium (Debian's ``chromium`` package) driven by Playwright for Python.

Playwright's own browser download is not used (and cannot happen offline): the system binary is
launched through ``executable_path``. ``.ci/run`` installs the package; ``IPQA_CHROMIUM`` overrides
the path."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str | None:
    configured = os.environ.get("IPQA_CHROMIUM")
    if configured:
        return configured
    for candidate in CANDIDATES:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


def launch(playwright):  # type: ignore[no-untyped-def]
    path = chromium_path()
    if path is None:
        raise RuntimeError("no Chromium found: install Debian's chromium package or set IPQA_CHROMIUM")
    # --no-sandbox: CI runs as root in a container, where Chromium's sandbox cannot start
    return playwright.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])


def chromium_browser():  # type: ignore[no-untyped-def]
    """A module-scoped browser fixture's body: skips without Chromium, closes the browser after."""
    import pytest

    if chromium_path() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()
