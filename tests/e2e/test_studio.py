"""The studio in a real browser, clicked through like a user would.

Main flow: paste a text, train a tiny model, watch the loss chart and an epoch's samples, stop,
open the playground, move the temperature slider and see the text change, download it, find the
model in the library. Also: reload the page mid-training and find the run still going.
Each step saves a screenshot under test-results/screenshots/ (the README's come from here).
"""

from __future__ import annotations

import re
from pathlib import Path

from e2e_helpers import (
    WRITTEN,
    code_text,
    key,
    nav,
    open_app,
    shot,
    start_training,
    tiny_settings,
    use_pasted_text,
    wait_code_changes,
    wait_idle,
)


def test_main_flow_train_stop_generate_download(page, english_text):
    open_app(page)
    shot(page, "first-visit")  # a ready-made model writing
    use_pasted_text(page, english_text[:15_000])
    shot(page, "corpus")
    page.get_by_text("15,000").first.wait_for()  # waits: the click's rerun may not have started yet

    nav(page, "Train")
    tiny_settings(page, minutes="2")
    start_training(page)
    # the per-batch loss chart, then the first epoch's samples
    page.wait_for_selector("[data-testid=stVegaLiteChart]", timeout=60_000)
    page.get_by_text(re.compile(r"What the model writes after epoch \d+")).wait_for(timeout=60_000)
    page.get_by_text("Temperature 0.2").first.wait_for()
    shot(page, "train")

    page.locator(f"{key('train_stop')} button").click()
    page.get_by_text(re.compile("Stopped by you")).first.wait_for(timeout=60_000)
    shot(page, "train-stopped")

    nav(page, "Generate")
    page.wait_for_selector(WRITTEN)
    before = code_text(page)
    slider = page.locator(f"{key('gen_temperature')} input[type=range]")
    slider.focus()
    for _ in range(8):
        slider.press("ArrowRight")
    wait_idle(page)
    wait_code_changes(page, before)
    page.locator(key("gen_temperature")).get_by_text("0.90").wait_for()  # all eight steps, not the first few
    wait_idle(page)  # the text streams in: read it once the run has finished
    after = code_text(page)
    assert after != before and len(after) > 100
    page.locator(key("gen_compare")).get_by_text("Compare temperatures").click()
    page.get_by_text("Temperature 1.2", exact=True).wait_for(timeout=15_000)
    wait_idle(page)
    shot(page, "generate")

    with page.expect_download() as download:
        page.locator(f"{key('gen_download')} button").click()
    downloaded = Path(download.value.path()).read_text(encoding="utf-8")
    assert downloaded.strip() == after.strip()

    nav(page, "Models")
    page.get_by_text("pasted", exact=False).first.wait_for()
    shot(page, "models")


def test_reload_mid_training_reattaches(page, english_text):
    open_app(page)
    use_pasted_text(page, english_text[:15_000])
    nav(page, "Train")
    tiny_settings(page, minutes="3")
    start_training(page)
    page.wait_for_selector("[data-testid=stVegaLiteChart]", timeout=60_000)
    assert "run=" in page.url
    url = page.url

    page.reload()
    wait_idle(page, 60_000)
    assert page.url == url
    # the same run, still going: the Stop button is back and the chart keeps updating
    page.wait_for_selector(f"{key('train_stop')} button", timeout=30_000)
    page.wait_for_selector("[data-testid=stVegaLiteChart]", timeout=30_000)
    page.locator(f"{key('train_stop')} button").click()
    page.get_by_text(re.compile("Stopped by you")).first.wait_for(timeout=60_000)
