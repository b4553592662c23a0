"""Screenshots of the studio for the README, with a real model: `python tests/e2e/take_screenshots.py`.

Starts `charlstm studio` on a free port with a private models folder, trains the `quick`
preset on the default corpus through the browser (about two minutes), then saves each page to
docs/screenshots/. Not part of `make test` (it trains for real); the e2e tests save their own
screenshots of a tiny model to test-results/screenshots/.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/: the polling helper
sys.path.insert(0, str(Path(__file__).parent))
from e2e_helpers import CHROMIUM, CHROMIUM_ARGS, ROOT, streamlit_server

OUT = ROOT / "docs" / "screenshots"


def race(page, url: str) -> None:
    """A new person races quick against quick with 64 units, 30 s each, on the default text; the race's view."""
    page.set_default_timeout(60_000)

    def idle():
        page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]")

    page.goto(url + "/train")
    idle()
    page.get_by_text("Advanced settings").click()
    idle()
    box = page.locator(".st-key-train_minutes input")
    box.fill("0.5")
    box.press("Enter")
    idle()
    page.get_by_text("Race two settings").click()
    idle()
    page.locator(".st-key-race_start button").click()
    page.get_by_text(re.compile(r"of training each: .*(is the winner|a tie)")).first.wait_for(timeout=300_000)
    idle()
    page.get_by_text("Your race").first.scroll_into_view_if_needed()
    time.sleep(1.5)  # let the chart finish drawing
    page.screenshot(path=str(OUT / "race.png"), full_page=False)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with streamlit_server(Path(tempfile.mkdtemp(prefix="charlstm-shots-"))) as (url, _port), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)

        def idle():
            page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]")

        def save(name: str) -> None:
            time.sleep(1.5)  # let charts finish drawing
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)

        page.goto(url)
        idle()
        save("first-visit")  # the first visit plays: a ready-made model writes
        page.locator("[data-testid=stSidebarNavLink]", has_text="Corpus").click()
        idle()
        save("corpus")
        page.locator("[data-testid=stSidebarNavLink]", has_text="Train").click()
        idle()
        page.locator(".st-key-train_start button").click()
        page.get_by_text("What the model writes after epoch").first.wait_for(timeout=120_000)
        time.sleep(20)
        save("train")
        page.locator(".st-key-train_play button").wait_for(timeout=300_000)
        idle()
        save("train-finished")
        page.locator(".st-key-train_play button").click()
        idle()
        page.locator(".st-key-gen_compare").get_by_text("Compare temperatures").click()
        page.get_by_text("Temperature 1.2", exact=True).wait_for()
        idle()
        save("generate")
        page.get_by_text("How it learned", exact=True).first.scroll_into_view_if_needed()
        page.locator(".st-key-gen_timelapse").scroll_into_view_if_needed()
        save("how-it-learned")  # the same start at one moment of the training, marked on the loss curve
        page.locator("[data-testid=stSidebarNavLink]", has_text="Models").click()
        idle()
        save("models")
        page.locator("[data-testid=stSidebarNavLink]", has_text="Inside").click()
        idle()
        page.wait_for_selector("[data-testid=stVegaLiteChart]")
        save("inside")
        tries = page.locator("[class*=st-key-inside_cut_try_] button")
        if tries.count():
            tries.first.click()
            idle()
        page.get_by_text("Cell surgery: change one cell while it writes").first.scroll_into_view_if_needed()
        save("surgery")
        page.get_by_text("One step of the LSTM, explained").first.scroll_into_view_if_needed()
        save("step")
        page.locator("[data-testid=stSidebarNavLink]", has_text="Guess").click()
        idle()
        box = page.locator(".st-key-guess_input input")
        for ch in "e t":
            box.fill(ch)
            box.press("Enter")
            idle()
        page.locator(".st-key-guess_tell button").click()
        idle()
        save("guess")
        page.goto(url + "/?m=starter:python-docs&t=0.2&seed=3")  # a low temperature recites its text
        idle()
        page.locator(".st-key-gen_text").scroll_into_view_if_needed()
        save("copies")
        race(browser.new_page(viewport={"width": 1400, "height": 1000}), url)
        browser.close()
    print(f"saved screenshots to {OUT}")


if __name__ == "__main__":
    if not os.path.exists(CHROMIUM):
        raise SystemExit("needs Debian chromium: apt-get install chromium")
    main()
