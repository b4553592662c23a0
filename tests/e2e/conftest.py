"""A real browser against a real server: Debian chromium driven by Playwright, `charlstm studio` on a free port.

Never downloads a browser. Without /usr/bin/chromium the tests skip locally and fail under CI=true.
"""

from __future__ import annotations

import os

import pytest
from e2e_helpers import CHROMIUM, CHROMIUM_ARGS, streamlit_server


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


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
