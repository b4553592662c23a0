"""A real browser against a real server: Debian chromium driven by Playwright, `charlstm studio` on a free port.

Never downloads a browser. Without /usr/bin/chromium the tests skip locally and fail under CI=true.
"""

from __future__ import annotations

import os

import pytest
from e2e_helpers import CHROMIUM, CHROMIUM_ARGS, SHOTS, streamlit_server

PAGE_TEXT_SHOWN = 3_000  # characters of a failed test's page text in its report (the CI log is all one sees)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test's report shows what its pages showed (their text and a screenshot): a timing
    failure on a busy CI machine can then be read from the log, not guessed."""
    report = (yield).get_result()
    if report.when != "call" or not report.failed:
        return
    pages = [v for v in item.funcargs.values() if hasattr(v, "screenshot") and hasattr(v, "url")]
    SHOTS.mkdir(parents=True, exist_ok=True)
    for i, pg in enumerate(pages):
        try:
            pg.screenshot(path=str(SHOTS / f"FAILED-{item.name}-{i}.png"), full_page=True, timeout=5_000)
            text = pg.locator("body").inner_text(timeout=5_000)
        except Exception as exc:  # a closed page must not hide the test's own failure
            text = f"(the page could not be read: {exc})"
        report.sections.append((f"page {i} at {pg.url}", text[-PAGE_TEXT_SHOWN:]))


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI must have Debian chromium (apt-get install chromium)")
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def server_home(tmp_path_factory):
    """The private data folder (CHARLSTM_HOME) of the shared studio: what it wrote can be read there."""
    return tmp_path_factory.mktemp("e2e-home")


@pytest.fixture(scope="session")
def server(server_home):
    """`charlstm studio` with a private models folder, shared by the tests that need no studio of their own
    (each test's browser is a new person, who sees only the ready-made models and their own); yields the base URL."""
    with streamlit_server(server_home) as (url, _port):
        yield url


@pytest.fixture
def page(browser, server, server_home):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.base_url = server
    pg.home = server_home
    yield pg
    context.close()
