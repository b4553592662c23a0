"""Play first, look inside: the studio as a new person sees it (no models of their own), in Debian chromium.

- First visit: the playground writes with a ready-made model at once; the temperature slider changes the text.
- Inside the LSTM on a ready-made model, at desktop and phone sizes: charts drawn, another cell chosen, the text
  recoloured, a stretch picked by typing and by one click, a plain message for words that are not there.
- A phone (400 x 800): every page without an error, screenshots under test-results/screenshots/phone-*.png,
  the menu closes after choosing a page, and the text sits right under the temperature slider.
"""

from __future__ import annotations

import re

import pytest
from e2e_helpers import (
    WRITTEN,
    code_text,
    key,
    shot,
    wait_code_changes,
    wait_idle,
    wait_written_at,
    written_text,
)
from helpers import wait_for
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from charlstm.starters import list_starters

PHONE_UA = (  # a phone's user agent: Streamlit closes the menu after a page is chosen on mobile devices
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
)
# Generate is the default page, at the address itself
PAGES = {
    "generate": "/",
    "corpus": "/corpus",
    "train": "/train",
    "inside": "/inside",
    "guess": "/guess",
    "models": "/models",
}


@pytest.fixture(autouse=True)
def shipped_starters():
    if not list_starters():
        pytest.fail("assets/models has no ready-made models: run make starter-models")


def open_page(page, path: str) -> None:
    page.goto(page.base_url + path)
    wait_idle(page, 90_000)


def test_first_visit_writes_with_a_ready_made_model_and_the_slider_works(page):
    open_page(page, PAGES["generate"])
    before = written_text(page)
    assert before.startswith("The meaning of ") and len(before) > 200
    chosen = page.locator(f"{key('gen_model')} input").first
    assert "ready-made" in (chosen.input_value() or chosen.get_attribute("aria-label") or "")
    page.locator(key("gen_timelapse")).wait_for()  # how the ready-made model learned, before anyone trains
    slider = page.locator(f"{key('gen_temperature')} input[type=range]")
    slider.focus()
    for _ in range(10):
        slider.press("ArrowRight")
    wait_code_changes(page, before)
    wait_written_at(page, 1.0)  # the URL keeps the temperature (1.0 after ten steps of 0.05)
    after = code_text(page)
    assert after != before
    shot(page, "play-first-generate")
    page.reload()  # a reload keeps the settings, so the same text comes back
    wait_idle(page, 90_000)
    page.wait_for_selector(WRITTEN)
    page.locator(key("gen_temperature")).get_by_text("1.00").wait_for()  # a busy machine draws it a moment later
    wait_idle(page)
    assert code_text(page) == after


def coloured_backgrounds(page) -> list[str]:
    """Backgrounds of the text coloured by one cell (the first block of spans with +/- titles)."""
    return page.evaluate(
        """() => {
            const span = [...document.querySelectorAll('span[title]')].find(s => /^[+-]\\d/.test(s.title));
            return span ? [...span.parentElement.children].map(s => s.style.background) : [];
        }"""
    )


def choose_option(page, widget: str, index: int) -> None:
    """Open a select box and pick its option number `index` (a late rerun can close the list: try again)."""
    for _ in range(5):
        wait_idle(page)
        page.locator(key(widget)).get_by_role("button", name="Open").click()
        option = page.get_by_role("option").nth(index)
        try:
            option.wait_for(timeout=3_000)
        except Exception:  # the list closed before it was drawn
            continue
        option.click()
        return
    raise AssertionError(f"the options of {widget} never opened")


@pytest.mark.parametrize(
    "size", [{"width": 1366, "height": 900}, {"width": 390, "height": 844}], ids=["desktop", "phone"]
)
def test_inside_on_a_ready_made_model(browser, server, size):
    """A newcomer's tour at desktop and phone sizes: charts drawn, another cell recolours the text, a stretch
    picked by typing words (any case) and by one click, words that are not there get a plain message; no
    statistics outside the expanders, nothing wider than the screen, no traceback."""
    phone = size["width"] < 500
    extra = {"is_mobile": True, "has_touch": True, "user_agent": PHONE_UA} if phone else {}
    context = browser.new_context(viewport=size, **extra)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.base_url = server
    open_page(page, PAGES["inside"])
    page.wait_for_selector("[data-testid=stVegaLiteChart]", timeout=60_000)
    page.get_by_text("Cells worth a look").first.wait_for()
    wait_idle(page)  # the whole page drawn: the coloured text comes after the charts (a busy machine draws slowly)
    page.wait_for_function(
        """() => { const s = [...document.querySelectorAll('span[title]')].find(s => /^[+-]\\d/.test(s.title));
                   return s && s.parentElement.children.length > 100; }""",
        timeout=30_000,
    )
    before = coloured_backgrounds(page)
    assert len(before) > 100 and len(set(before)) > 10
    choose_option(page, "inside_cell", 3)
    wait_idle(page)
    page.wait_for_function(
        """b => { const s = [...document.querySelectorAll('span[title]')].find(s => /^[+-]\\d/.test(s.title));
                  return s && [...s.parentElement.children].map(x => x.style.background).join() !== b.join(); }""",
        arg=before,
        timeout=15_000,
    )
    after = coloured_backgrounds(page)
    assert len(after) == len(before) and after != before
    shown = page.evaluate(
        """() => { const s = [...document.querySelectorAll('span[title]')].find(s => /^[+-]\\d/.test(s.title));
                   return [...s.parentElement.children].map(x => x.textContent).join(''); }"""
    )
    word = max(re.findall(r"[A-Za-z]{4,}", shown)[:20], key=len)
    box = page.locator(f"{key('inside_find')} input")
    box.fill(word.upper())  # capitals do not matter
    box.press("Enter")
    wait_idle(page)
    page.get_by_text(re.compile(r"Cells that fire more on|No cell is clearly higher")).first.wait_for()
    assert len(page.locator("[data-testid=stVegaLiteChart]").all()) >= 2  # the ranking and the cells around it
    suggestion = page.locator("[class*=st-key-inside_suggest_] button").first
    if suggestion.count():  # one click picks a stretch
        suggestion.click()
        page.wait_for_function(
            "w => document.querySelector('.st-key-inside_find input').value !== w", arg=word.upper(), timeout=15_000
        )
        wait_idle(page)
    select_in_text(page, word, by_mouse=not phone)
    main = """() => { const m = document.querySelector('[data-testid=stMain]').cloneNode(true);
                      m.querySelectorAll('[data-testid=stExpander]').forEach(e => e.remove()); return m.innerText; }"""
    assert "r =" not in page.evaluate(main) and "|r|" not in page.evaluate(main)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= size["width"]
    shot(page, f"inside-{'phone' if phone else 'desktop'}")
    box.fill("zqxj wvut")
    box.press("Enter")
    wait_idle(page)
    page.get_by_text("is not in the text above").first.wait_for()
    assert not page.locator("[data-testid=stException]").count()
    surgery_and_one_step(page, size["width"])
    context.close()


def select_in_text(page, word: str, by_mouse: bool) -> None:
    """Select a word's characters in the coloured text itself (a mouse drag, or the selection a finger leaves);
    the stretch box then holds exactly those characters and the cells for them are shown."""
    chars = page.locator(".charlstm-selectable span[title]")
    shown = "".join(chars.all_text_contents())
    at = next(m.start() for m in re.finditer(re.escape(word), shown) if m.start() > 0)
    first, last = chars.nth(at), chars.nth(at + len(word) - 1)
    if by_mouse:
        first.scroll_into_view_if_needed()
        a, b = first.bounding_box(), last.bounding_box()
        page.mouse.move(a["x"] + 1, a["y"] + a["height"] / 2)
        page.mouse.down()
        page.mouse.move(b["x"] + b["width"] - 1, b["y"] + b["height"] / 2, steps=8)
        page.mouse.up()
    else:
        page.evaluate(
            """([a, b]) => { const c = document.querySelectorAll('.charlstm-selectable span[title]');
                             getSelection().setBaseAndExtent(c[a].firstChild, 0, c[b].firstChild, 1); }""",
            [at, at + len(word) - 1],
        )
    page.wait_for_function(
        "w => document.querySelector('.st-key-inside_find input').value === w", arg=word, timeout=15_000
    )
    wait_idle(page)
    page.get_by_text(re.compile(r"Cells that fire more on|No cell is clearly higher")).first.wait_for()


@pytest.fixture
def phone(browser, server):
    context = browser.new_context(
        viewport={"width": 400, "height": 800}, is_mobile=True, has_touch=True, user_agent=PHONE_UA
    )
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.base_url = server
    yield pg
    context.close()


def test_every_page_on_a_phone(phone):
    for name, path in PAGES.items():
        open_page(phone, path)
        phone.wait_for_timeout(300)
        assert not phone.locator("[data-testid=stException]").count(), name
        assert phone.evaluate("() => document.documentElement.scrollWidth") <= 400 + 1, name
        shot(phone, f"phone-{name}")
        if name == "guess":  # the game with a phone's keyboard: a guess sent with its key, a line break tapped
            phone.get_by_text("Character 1 of 50").first.wait_for(timeout=60_000)
            box = phone.locator(f"{key('guess_input')} input")
            box.fill("e")
            box.press("Enter")
            wait_idle(phone)
            phone.locator(f"{key('guess_newline')} button").click()
            wait_idle(phone)
            phone.locator(f"{key('guess_tell')} button").click()
            phone.get_by_text(re.compile(r"Character [2-4] of 50")).first.wait_for()
            phone.get_by_text("The model: guesses per character").first.wait_for()
            assert not phone.locator("[data-testid=stException]").count()


SIDEBAR_COLLAPSED = "() => document.querySelector('[data-testid=stSidebar]').dataset.collapsed"


def test_phone_menu_closes_after_choosing_a_page(phone):
    open_page(phone, PAGES["corpus"])
    assert phone.evaluate(SIDEBAR_COLLAPSED) == "true"  # a phone starts with the menu closed
    phone.locator("[data-testid=stExpandSidebarButton]").first.click()
    phone.wait_for_function(f"() => ({SIDEBAR_COLLAPSED})() === 'false'")
    phone.locator("[data-testid=stSidebarNavLink]", has_text="Inside the LSTM").click()
    phone.wait_for_url(re.compile(r"/inside"))
    phone.wait_for_function(f"() => ({SIDEBAR_COLLAPSED})() === 'true'")
    phone.get_by_text("Cells worth a look").first.wait_for()


def test_phone_text_sits_right_under_the_slider(phone):
    open_page(phone, PAGES["generate"])
    phone.wait_for_selector(WRITTEN)
    gap = f"""() => {{
        const slider = document.querySelector("{key("gen_temperature")}").getBoundingClientRect();
        const text = document.querySelector("{WRITTEN}").getBoundingClientRect();
        return [text.top - slider.bottom, text.top];
    }}"""
    try:  # a message drawn while the model loads may hold the text down a moment: the page settles first
        phone.wait_for_function(f"() => {{ const [gap, top] = ({gap})(); return gap >= 0 && gap < 80 && top < 800; }}")
    except PlaywrightTimeout:
        below, top = phone.evaluate(gap)
        raise AssertionError(f"the text starts {below:.0f} px under the slider, {top:.0f} px down the page") from None


def test_the_playground_beyond_temperature_and_its_address(page):
    """Top-k / top-p / the loop guard change the text; the copy note sits under it; the address holds it all,
    so opening it again (a copied link) writes the same text."""
    open_page(page, PAGES["generate"] + "?m=starter:python-docs&t=0.2&seed=3")
    page.wait_for_selector(WRITTEN)
    page.get_by_text(re.compile(r"copied word for word|Nothing here is copied")).first.wait_for(timeout=60_000)
    before = code_text(page)
    page.get_by_text("More ways to pick the next character").click()
    guard = page.locator(f"{key('gen_no_repeat')} input[type=range]")
    for _ in range(12):  # 0, then 2 to 8 (a guard of 1 is no step): one step, then its rerun, at a time
        if "nr=8" in page.url:
            break
        address = page.url
        guard.focus()
        guard.press("ArrowRight")
        page.wait_for_function("u => location.href !== u", arg=address, timeout=30_000)
        wait_idle(page)
    wait_code_changes(page, before, timeout=30_000)
    wait_idle(page)
    guarded = code_text(page)
    assert guarded != before and "nr=8" in page.url and "m=starter" in page.url
    shot(page, "generate-loop-guard")
    page.goto(page.url)  # the copied link, opened again
    wait_idle(page, 90_000)
    page.wait_for_selector(WRITTEN)
    assert code_text(page) == guarded
    assert not page.locator("[data-testid=stException]").count()


def test_after_a_rename_the_model_picker_stays_on_that_model(page):
    """Renaming changes the picker's labels; Streamlit then draws a new picker, which must keep the model
    (it once fell back to the first model, and the next Delete named another one)."""
    open_page(page, PAGES["models"])
    for name, title in (("python-docs", "Python's documentation"), ("nietzsche", "Nietzsche")):  # two of our own
        page.locator(f"{key(f'models_starter_copy_{name}')} button").click()
        page.get_by_text(f"Copied: {title} (copy) is now one of your models").first.wait_for(timeout=60_000)
        wait_idle(page)

    def picked() -> str:
        box = page.locator(f"{key('models_pick')} input").first
        return box.input_value() or box.get_attribute("aria-label") or ""

    assert "Nietzsche" in picked()  # the copy just made is picked
    page.locator(f"{key('models_new_name')} input").fill("Our class diary")
    page.locator(f"{key('models_rename')} button").click()
    page.get_by_text("Renamed to Our class diary.").first.wait_for()
    wait_idle(page)
    page.locator(f"{key('models_more_epochs')} input").fill("3")  # the next click anywhere: a rerun
    page.locator(f"{key('models_more_epochs')} input").press("Tab")
    wait_idle(page)
    assert "Our class diary" in picked()
    page.locator(f"{key('models_delete')} button").click()
    page.get_by_text("Delete Our class diary for good?").first.wait_for()
    page.locator(f"{key('models_delete_cancel')} button").click()


def test_the_guessing_game_in_a_browser(page):
    """Shannon's game on a ready-made model: a guess typed and sent with Enter, a line break guessed with its
    button (a phone keyboard cannot type one), a character told, the scores (the phone: test_every_page_on_a_phone).
    """
    open_page(page, PAGES["guess"])
    page.get_by_text("Character 1 of 50").first.wait_for(timeout=60_000)
    box = page.locator(f"{key('guess_input')} input")
    box.fill("e")
    box.press("Enter")  # a phone keyboard's send key does the same
    wait_idle(page)
    page.locator(f"{key('guess_newline')} button").click()  # a guess too: wrong or right, the game goes on
    wait_idle(page)
    page.locator(f"{key('guess_tell')} button").click()
    page.get_by_text(re.compile(r"Character [2-4] of 50")).first.wait_for()
    wait_idle(page)
    page.get_by_text("The model: guesses per character").first.wait_for()  # you and the model, side by side
    assert "bits per character" in page.locator("[data-testid=stMain]").inner_text()
    assert not page.locator("[data-testid=stException]").count()
    shot(page, "guess")


def surgery_and_one_step(page, width: int) -> None:
    """A suggested surgery sets its cell and writes both texts (the first difference said), and one step of the
    LSTM steps forward with new guesses; nothing wider than the screen."""
    page.get_by_text("Cell surgery: change one cell while it writes").first.wait_for(timeout=60_000)
    wait_idle(page)
    suggestion = page.locator("[class*=st-key-inside_cut_try_] button").first
    suggestion.scroll_into_view_if_needed()
    suggestion.click()
    wait_idle(page)
    chosen = page.locator(f"{key('inside_cut_cell')} input").first
    heading = page.get_by_text(re.compile(r"Cell \d+: (Pin it high|Pin it low|Switch it off)")).first

    def same_cell() -> bool:  # the box and the changed text's heading name one cell (a late rerun may lag)
        picked = re.search(r"Cell (\d+)", chosen.input_value() or chosen.get_attribute("aria-label") or "")
        shown = re.match(r"Cell (\d+):", heading.inner_text()) if heading.count() else None
        return bool(picked and shown and picked.group(1) == shown.group(1))

    wait_for(same_cell, 30, 0.3, what="the surgery's cell in the box and in the heading")
    page.get_by_text(re.compile("The texts part after|The same text on both sides")).first.wait_for()
    size = "phone" if width < 500 else "desktop"
    shot(page, f"surgery-{size}")

    at = page.locator(f"{key('inside_step_at')} input")
    at.scroll_into_view_if_needed()
    before = int(at.input_value())
    came_out = page.locator("[data-testid=stMarkdownContainer]", has_text="likeliest next characters after this step")
    guesses = came_out.first.inner_text()
    page.locator(f"{key('inside_step_forward')} button").click()
    page.wait_for_function(
        "v => document.querySelector('.st-key-inside_step_at input').value === String(v)", arg=before + 1
    )
    wait_idle(page)
    assert came_out.first.inner_text() != guesses  # another step's guesses
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width + 1
    assert not page.locator("[data-testid=stException]").count()
    shot(page, f"step-{size}")
