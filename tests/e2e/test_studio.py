"""The studio in a real browser, clicked through like a user would.

Main flow: paste a text, train a tiny model, watch the loss chart and an epoch's samples, stop,
open the playground, move the temperature slider and see the text change, download it, find the
model in the library. Also: reload the page mid-training and find the run still going; race two settings
and read the result on a computer and at a phone's width.
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
    wait_written_at,
)

from charlstm.run import Run


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
    wait_code_changes(page, before)
    wait_written_at(page, 0.9)  # all eight steps, not the first few; the text streams in: read it once written
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


def units(run: Run) -> int:
    return run.config().units


def test_a_race_in_a_browser_on_a_computer_and_a_phone(browser, page, english_text):
    """Race two settings: start it, watch both train, read who won, the chart and the samples. The race is in
    the address: a reload keeps it, the same person's phone shows it readably (nothing wider than the screen),
    and a stranger with the address sees nothing of it."""
    open_app(page)
    use_pasted_text(page, english_text[:15_000])
    nav(page, "Train")
    tiny_settings(page, minutes="0.2")  # several epochs of each; a slow one is judged on all it did (race.py)
    page.get_by_text("Race two settings").click()
    wait_idle(page)
    chosen = page.locator(f"{key('race_field')} input").first
    field = chosen.input_value() or chosen.get_attribute("aria-label") or ""
    assert "units per layer (now 24)" in field, field  # the setting to change names its value now
    page.locator(f"{key('race_start')} button").click()
    page.get_by_text("Your race").wait_for(timeout=60_000)
    assert "race=" in page.url
    page.get_by_text(re.compile(r"Race: units per layer 64: (time|completed)")).wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"Race: units per layer 24: (time|completed)")).wait_for(timeout=60_000)
    # the captions and the verdict are separate elements of one redraw: the verdict may still say "is ahead"
    # for a moment after both captions read done, so its final words are waited for, not read once
    final = re.compile(r"of training each: .*(is the winner|a tie)")
    page.get_by_text(final).first.wait_for(timeout=30_000)
    page.get_by_text("What each writes after epoch").wait_for()
    chart = page.locator("[data-testid=stVegaLiteChart]", has_text="Held-out loss (lower is better)")
    chart.first.wait_for()
    shot(page, "race")
    races = sorted((r for r in map(Run, (page.home / "runs").iterdir()) if r.name.startswith("Race:")), key=units)
    assert [units(r) for r in races] == [24, 64]
    assert races[1].config() == races[0].config().replace(units=64)  # the one change, nothing else
    assert races[0].owner == races[1].owner and races[0].owner  # both the person's own

    cookies = page.context.cookies()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.add_cookies(cookies)  # the same person, on a phone
    stranger = browser.new_context()
    try:
        mine = phone.new_page()
        mine.goto(page.url)
        wait_idle(mine, 60_000)
        mine.get_by_text(re.compile("of training each")).first.wait_for()
        assert mine.evaluate("() => document.documentElement.scrollWidth") <= 390 + 1
        assert mine.locator("[data-testid=stVegaLiteChart]").first.bounding_box()["width"] <= 390
        shot(mine, "phone-race")
        theirs = stranger.new_page()
        theirs.goto(page.url)
        wait_idle(theirs, 60_000)
        assert "Your race" not in theirs.locator("body").inner_text()
        assert "Race: units" not in theirs.locator("body").inner_text()
    finally:
        phone.close()
        stranger.close()
