"""What a person puts in stays theirs (issue 16): two people, one studio, in a real browser (Debian chromium).

A pastes a made-up diary, trains a tiny model on it (a 1-minute limit, stopped once an epoch has saved a model),
renames it, copies a ready-made model and continues it on the diary, and downloads the diary model as a .zip.
B, a stranger in another browser (other cookies), looks at A's run while it trains, then opens every page and
every address A had (A's `?run=` ids included), puts A's run ids in the address, makes up a browser key, tries
A's owner id (as a run folder holds it) as a key, and adds A's .zip on the Models page.

B never sees A's diary, its marker word, A's model names or A's samples; B's copy of the .zip is B's own and
has no text; A's run folders are byte for byte the same afterwards. Screenshots: test-results/screenshots/stranger-*.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import zipfile
from pathlib import Path

import pytest
from e2e_helpers import (
    WRITTEN,
    key,
    nav,
    open_expander,
    shot,
    start_training,
    streamlit_server,
    tiny_settings,
    use_pasted_text,
    wait_idle,
)
from playwright.sync_api import expect

from charlstm.identity import hashed
from charlstm.starters import list_starters

MARKER = "Zanzibarquux"
SECRET_NAME = "A's secret diary model"
COOKIE = "charlstm_id"
MADE_UP_KEY = "a" * 43
PAGES = {
    "Generate": "/",
    "Corpus": "/corpus",
    "Train": "/train",
    "Inside the LSTM": "/inside",
    "Guess the next character": "/guess",
    "Models": "/models",
}
STARTER = "python-docs"  # the ready-made model A copies (its characters cover the diary's)
FIRST_TRAINING_MS = 180_000  # worker start and the TensorFlow import on a 2-core machine, then an epoch


def diary() -> tuple[str, list[str]]:
    """A made-up diary nobody else could write, long enough to train on, with one word found nowhere else;
    and its one-off codes, one a day (a model trained on the diary learns its repeated words, never these)."""
    rng = random.Random(16)
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    things = ("violet umbrellas", "copper kettles", "salted plums", "paper lanterns", "woollen socks")
    codes = ["".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(16)) for _ in range(36)]
    text = "\n".join(
        f"Dear diary, day {i + 1}, a {days[i % 7]}: {MARKER} brought me {i * 7 % 13 + 2} {things[i % 5]}, "
        f"a card that read {code}, and whispered that {MARKER} still lives behind the lighthouse."
        for i, code in enumerate(codes)
    )
    return text, codes


DIARY, DIARY_CODES = diary()


# --- the studio, the two browsers ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """One `charlstm studio` for both people, with its own models folder; yields (base URL, home folder)."""
    home = tmp_path_factory.mktemp("stranger-home")
    with streamlit_server(home) as (url, _port):
        yield url, home


@pytest.fixture
def people(browser, studio):
    """Makes a person: a browser context of their own (their own cookies) and a page on the studio."""
    contexts = []

    def person():
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.base_url = studio[0]
        return context, page

    yield person
    for context in contexts:
        context.close()


# --- what a page shows ----------------------------------------------------------------------------------
def no_exception(page, where: str) -> None:
    assert page.locator("[data-testid=stException]").count() == 0, f"a Streamlit exception on {where}"


def shown(page) -> str:
    """Everything a page shows: its text and its HTML (the values of the picked options sit in attributes)."""
    return page.locator("body").inner_text() + "\n" + page.content()


def goto(page, path: str) -> str:
    """Open an address as a new visit (a new session, cookies read again); returns the address it ends on."""
    page.goto(page.base_url + path if path.startswith("/") else path)
    wait_idle(page, 90_000)
    page.wait_for_selector("[data-testid=stSidebarNavLink]")
    wait_idle(page)
    no_exception(page, page.url)
    return page.url


def click(page, widget: str) -> None:
    """Click a button once the page has settled (during a rerun the old page's button may still be there)."""
    wait_idle(page)
    button = page.locator(f"{key(widget)} button")
    expect(button).to_have_count(1)
    button.click()
    wait_idle(page)


def fill(page, widget: str, value: str) -> None:
    """Type into a box once the page has settled (during a rerun the old page's box may still be there)."""
    wait_idle(page)
    box = page.locator(f"{key(widget)} input")
    expect(box).to_have_count(1)
    box.fill(value)
    page.keyboard.press("Enter")  # to the box just filled: a rerun may draw a second copy of it for a moment
    wait_idle(page)


def pick(page, widget: str, label: str) -> None:
    """Open a select box and choose the option whose text starts with `label` (a late rerun may close it)."""
    for _ in range(5):
        wait_idle(page)
        page.locator(key(widget)).get_by_role("button", name="Open").click()
        option = page.get_by_role("option").filter(has_text=label).first
        try:
            option.wait_for(timeout=3_000)
        except Exception:  # the list closed before it was drawn
            continue
        option.click()
        wait_idle(page)
        return
    raise AssertionError(f"{label!r} never showed among the options of {widget}")


def picked(page, widget: str) -> str:
    """The option a select box shows as chosen."""
    box = page.locator(f"{key(widget)} input").first
    return box.input_value() or box.get_attribute("aria-label") or ""


def options(page, widget: str) -> list[str]:
    """The texts of a select box's options (the list is opened, read and closed again)."""
    for _ in range(5):
        wait_idle(page)
        page.locator(key(widget)).get_by_role("button", name="Open").click()
        try:
            page.get_by_role("option").first.wait_for(timeout=3_000)
        except Exception:  # a late rerun closed the list before it was drawn
            continue
        found = [o.inner_text() for o in page.get_by_role("option").all()]
        page.keyboard.press("Escape")
        wait_idle(page)
        return found
    raise AssertionError(f"the options of {widget} never opened")


def table_names(page) -> list[str]:
    """The names in the Models table (read from the grid's accessible table: the grid itself is a canvas)."""
    wait_idle(page)
    page.wait_for_function("() => document.querySelector('[data-testid=stDataFrame] td') !== null")
    rows = page.locator("[data-testid=stDataFrame]").first.evaluate(
        "e => [...e.querySelectorAll('tr')].map(r => [...r.querySelectorAll('td')].map(c => c.textContent))"
    )
    return [row[0] for row in rows if row]


def wait_finished(page, timeout: float = FIRST_TRAINING_MS) -> None:
    """The Train page shows a run that has ended with a saved model ("Play with this model")."""
    page.wait_for_selector(f"{key('train_play')} button", timeout=timeout)
    wait_idle(page)


def cookie_of(context) -> str | None:
    return next((c["value"] for c in context.cookies() if c["name"] == COOKIE), None)


def set_cookie(context, url: str, value: str) -> None:
    context.add_cookies([{"name": COOKIE, "value": value, "url": url}])


def wait_new_cookie(page, old: str) -> str:
    """The studio refused the key `old` and stored a key of its own in this browser."""
    page.wait_for_function(
        "([name, old]) => document.cookie.split('; ').some(c => c.startsWith(name + '=') && c !== name + '=' + old)",
        arg=[COOKIE, old],
        timeout=15_000,
    )
    value = cookie_of(page.context)
    assert value and value != old and re.fullmatch(r"[A-Za-z0-9_-]{22,43}\.[0-9a-f]{32}", value), value
    return value


# --- what is on disk -------------------------------------------------------------------------------------
def runs_on_disk(home: Path) -> dict[str, dict]:
    """Every run folder's meta.json, by run id."""
    root = home / "runs"
    return {
        meta.parent.name: json.loads(meta.read_text(encoding="utf-8"))
        for meta in sorted(root.glob("*/meta.json"))
        if not meta.parent.name.startswith(".")
    }


def fingerprint(run_dir: Path) -> dict[str, str]:
    """SHA-256 of every file of a run folder (meta.json, corpus.txt, the best.* checkpoint, status...)."""
    return {
        str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file()
    }


def samples_of(run_dir: Path) -> list[str]:
    """The prompts and texts of a run's epoch samples, as shown on its Train page (long ones only)."""
    found = []
    path = run_dir / "samples.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        entry = json.loads(line)
        found.append(entry.get("prompt", ""))
        found += [text for _t, text in entry.get("samples", [])]
    return [s.strip() for s in found if len(s.strip()) >= 24]


def pieces(text: str, size: int = 60) -> list[str]:
    """Stretches of a text too long for anything else to contain by chance."""
    return [text[i : i + size] for i in range(0, len(text) - size, size)]


def assert_nothing_of_a(page, where: str, secrets: list[str]) -> None:
    seen = shown(page)
    leaked = [s for s in secrets if s in seen]
    assert not leaked, f"B sees A's {leaked[0]!r} on {where}"


# --- the test ----------------------------------------------------------------------------------------------
def test_a_stranger_sees_nothing_of_yours_and_your_zip_becomes_theirs(studio, people):
    if STARTER not in {s.name for s in list_starters()}:
        pytest.fail("assets/models has no ready-made python-docs model: run make starter-models")
    url, home = studio
    a_context, a = people()
    a_urls: list[str] = []

    # --- A: a diary, a tiny model on it, renamed --------------------------------------------------------
    a_urls.append(goto(a, "/"))
    use_pasted_text(a, DIARY)
    a.get_by_text(f"{len(DIARY):,}").first.wait_for()
    nav(a, "Train")
    a_urls.append(a.url)
    tiny_settings(a, "1")
    start_training(a)
    a.get_by_text(re.compile(r"What the model writes after epoch \d+")).wait_for(timeout=FIRST_TRAINING_MS)
    shot(a, "stranger-a-training")
    diary_run = re.search(r"[?&]run=([^&]+)", a.url).group(1)

    # B, a stranger, looks while A trains: A's run in the address, B's own Train page (and its sidebar)
    b_context, b = people()
    for path in (f"/train?run={diary_run}", "/train"):
        goto(b, path)
        if "run=" in path:
            b.get_by_text("There is no model of yours at this address").wait_for()
        assert b.locator(f"{key('train_stop')} button").count() == 0, "B is offered to stop A's training"
        assert "You already have a training going" not in shown(b)
        assert "Open the Train page" not in shown(b)  # the sidebar lists no training of B's
        assert_nothing_of_a(b, f"B's {path} while A trains", [MARKER, *pieces(DIARY)])
    shot(b, "stranger-b-while-a-trains")

    a.locator(f"{key('train_stop')} button").click()  # one epoch makes a saved model: no need for the whole minute
    wait_finished(a)
    a.get_by_text(re.compile("Stopped by you")).first.wait_for()
    no_exception(a, "A's Train page")
    assert MARKER in shown(a)  # A sees the diary in the samples' prompt (and so would B, were it leaked)
    a_urls.append(a.url)
    for title in ("Generate", "Inside the LSTM"):
        nav(a, title)
        wait_idle(a, 60_000)
        no_exception(a, f"A's {title} page")
        a_urls.append(a.url)

    nav(a, "Models")
    pick(a, "models_pick", "pasted")
    fill(a, "models_new_name", SECRET_NAME)
    click(a, "models_rename")
    a.get_by_text(f"Renamed to {SECRET_NAME}").wait_for()
    a_urls.append(a.url)

    # --- A: a ready-made model copied, and continued on the diary --------------------------------------
    click(a, f"models_starter_copy_{STARTER}")
    a.get_by_text(re.compile("Copied: .* is now one of your models")).wait_for()
    fill(a, "models_more_epochs", "1")
    fill(a, "models_more_minutes", "0.2")
    a.locator(f"{key('models_continue')} button").click()
    a.wait_for_url(re.compile(r"/train\?(.*&)?run="))
    wait_finished(a)
    no_exception(a, "A's continued copy on the Train page")
    copy_run = re.search(r"[?&]run=([^&]+)", a.url).group(1)
    assert copy_run != diary_run
    a_urls.append(a.url)
    shot(a, "stranger-a-continued")

    # --- A: the diary model as a file --------------------------------------------------------------------
    nav(a, "Models")
    pick(a, "models_pick", SECRET_NAME)
    with a.expect_download() as download:
        a.locator(f"{key('models_download')} button").click()
    bundle = Path(download.value.path()).read_bytes()
    no_exception(a, "A's Models page")
    shot(a, "stranger-a-models")
    assert sorted(table_names(a)) == sorted([SECRET_NAME, "Python's documentation (copy)"])

    # what A has on disk, and who A is
    a_key = cookie_of(a_context)
    assert a_key, "A's browser has no key"
    a_owner = hashed("browser", a_key)
    metas = runs_on_disk(home)
    assert set(metas) == {diary_run, copy_run}, metas
    assert {m.get("owner") for m in metas.values()} == {a_owner}
    assert metas[diary_run]["name"] == SECRET_NAME
    assert (home / "runs" / copy_run / "corpus.txt").read_text(encoding="utf-8") == DIARY  # continued on the diary
    before = {run: fingerprint(home / "runs" / run) for run in metas}
    for run in metas:
        assert {"meta.json", "corpus.txt", "best.json", "best.weights.npz"} <= set(before[run]), before[run]

    # the file itself: the model's numbers and name, nothing of A's text or A's identity
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    assert "corpus.txt" not in entries and "samples.jsonl" not in entries, sorted(entries)
    assert "owner" not in json.loads(entries["meta.json"]), entries["meta.json"]
    for name, data in entries.items():
        for secret in (a_owner, a_key, a_owner.removeprefix("browser-"), MARKER, str(home)):
            assert secret.encode() not in data, f"{secret!r} is in the exported {name}"

    a_samples = [s for run in metas for s in samples_of(home / "runs" / run)]
    assert a_samples, "A's trainings wrote no samples"
    secrets = [MARKER, SECRET_NAME, diary_run, copy_run, *pieces(DIARY), *a_samples]
    a_run_ids = [diary_run, copy_run]

    # --- B, a stranger: every page, every address A had, A's run ids in the address -----------------------
    for title, path in PAGES.items():
        goto(b, path)
        if title == "Models":
            b.get_by_text("No models yet").wait_for()
        assert_nothing_of_a(b, f"B's {title} page", secrets)
        shot(b, f"stranger-b-{title.split()[0].lower()}")
    b_key = cookie_of(b_context)
    assert b_key and b_key != a_key
    for address in a_urls:
        goto(b, address)
        if "run=" in address and "/train" in address:
            b.get_by_text("There is no model of yours at this address").wait_for()
        assert_nothing_of_a(b, f"A's address {address}", secrets)
    for run in a_run_ids:
        for path in ("/train", "/", "/inside", "/models"):
            goto(b, f"{path}?run={run}")
            assert_nothing_of_a(b, f"{path}?run=<A's run>", secrets)
            said = "There is no model of yours at this address" if path == "/train" else "not one of yours"
            b.get_by_text(said).first.wait_for()  # every page says why, none silently shows another model
    shot(b, "stranger-b-a-run-in-address")

    # --- B makes up a key, then tries A's owner id (as a run folder holds it) as one ----------------------
    for made_up in (MADE_UP_KEY, a_owner):
        set_cookie(b_context, url, made_up)
        goto(b, f"/train?run={diary_run}")
        b.get_by_text("There is no model of yours at this address").wait_for()
        b_key = wait_new_cookie(b, made_up)
        assert b_key != a_key
        for path in ("/", "/models"):
            goto(b, path)
            assert_nothing_of_a(b, f"B's {path} with a made-up key", secrets)
    b_owner = hashed("browser", b_key)

    # --- B adds A's file: B's own copy, without A's text -----------------------------------------------------
    goto(b, "/models")
    open_expander(b, "Add a model from a file")  # seen open: a message inside a closed one is hidden
    b.locator(f"{key('models_upload')} input[type=file]").set_input_files(
        files=[{"name": "a-secret-diary-model.zip", "mimeType": "application/zip", "buffer": bundle}]
    )
    added = b.get_by_text(f"Added {SECRET_NAME} to your models.")
    try:
        added.wait_for(timeout=60_000)
    except Exception as exc:  # what the page said instead
        raise AssertionError(f"no word of the upload; the page shows: {b.locator('body').inner_text()}") from exc
    wait_idle(b)
    no_exception(b, "B's Models page after the upload")
    shot(b, "stranger-b-upload")
    b_models = options(b, "models_pick")
    assert len(b_models) == 1 and b_models[0].startswith(SECRET_NAME), b_models  # only B's copy
    assert table_names(b) == [SECRET_NAME]
    # B's copy is A's model, shared by A: it may write the diary's repeated words (the marker too), never its codes
    after_upload = [diary_run, copy_run, *DIARY_CODES, *DIARY.splitlines()]

    metas_now = runs_on_disk(home)
    b_runs = set(metas_now) - set(a_run_ids)
    assert len(b_runs) == 1, metas_now
    (b_run,) = b_runs
    assert metas_now[b_run]["owner"] == b_owner != a_owner
    assert metas_now[b_run]["name"] == SECRET_NAME
    b_files = {p.name for p in (home / "runs" / b_run).iterdir()}
    assert "corpus.txt" not in b_files and "samples.jsonl" not in b_files, b_files
    b_text = "".join(
        p.read_text(encoding="utf-8", errors="replace") for p in (home / "runs" / b_run).iterdir() if p.is_file()
    )
    assert a_owner not in b_text and MARKER not in b_text

    # B writes with the copy and looks inside it: no "slice of its training text", nothing of A's diary
    click(b, "models_use")
    b.wait_for_selector(key("gen_model"))
    b.wait_for_selector(WRITTEN)
    wait_idle(b)
    assert picked(b, "gen_model").startswith(SECRET_NAME)  # B writes with B's copy
    no_exception(b, "B's Generate page with the copy")
    assert_nothing_of_a(b, "B's Generate page with the copy", after_upload)
    nav(b, "Inside the LSTM")
    b.get_by_text("Cells worth a look").first.wait_for(timeout=60_000)
    wait_idle(b)
    no_exception(b, "B's Inside page with the copy")
    shot(b, "stranger-b-inside-copy")
    assert picked(b, "inside_model") == SECRET_NAME
    b.locator(key("inside_source")).get_by_text("A text it writes").wait_for()
    sources = b.locator(key("inside_source")).inner_text()
    assert "A text it writes" in sources and "A slice of its training text" not in sources, sources
    assert_nothing_of_a(b, "B's Inside page with the copy", after_upload)
    for title in ("Corpus", "Train"):
        nav(b, title)
        no_exception(b, f"B's {title} page after the upload")
        assert_nothing_of_a(b, f"B's {title} page after the upload", after_upload)

    # --- A's runs: untouched, still A's; A still sees them --------------------------------------------------
    for run in a_run_ids:
        assert fingerprint(home / "runs" / run) == before[run], f"B's visit changed A's run {run}"
        assert json.loads((home / "runs" / run / "meta.json").read_text(encoding="utf-8"))["owner"] == a_owner
    goto(a, "/models")
    names = options(a, "models_pick")
    assert any(n.startswith(SECRET_NAME) for n in names) and len(names) == 2, names
    shot(a, "stranger-a-models-after")
