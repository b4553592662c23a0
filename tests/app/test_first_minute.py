"""A newcomer's first minute (issue 17): the model in use is named everywhere, the copy flow, the cards."""

from __future__ import annotations

from studio_helpers import ROOT, has, make_run, new_app, texts

from charlstm import starters

MODELS = "app_pages/models.py"


def sidebar_text(at) -> str:
    return " ".join(texts(at.sidebar, "caption"))


def test_the_sidebar_names_the_model_in_use_on_every_page(runs_root):
    first = starters.list_starters()[0]
    for page in (None, "app_pages/train.py", "app_pages/inside.py", MODELS):
        at = new_app(page)
        assert first.title in sidebar_text(at), page  # the ready-made model Generate and Inside open with
    make_run(runs_root, name="my own model")
    assert "my own model" in sidebar_text(new_app())  # after training, yours


def test_copying_a_ready_made_model_when_you_have_one_selects_the_copy(runs_root):
    make_run(runs_root, name="already mine")
    at = new_app(MODELS)
    assert at.selectbox(key="models_pick").value is not None  # the picker exists before the copy button
    starter = starters.list_starters()[0]
    at.button(key=f"models_starter_copy_{starter.name}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    picked = at.selectbox(key="models_pick")
    copy_name = starter.title.removesuffix(" (ready-made)") + " (copy)"
    assert picked.format_func(picked.value).startswith(copy_name)  # the copy, not the model you had
    assert any("is now one of your models" in s for s in texts(at, "success"))
    assert has(at, "button", "models_continue")  # and Continue applies to it


def test_a_model_card_is_formatted_not_shown_as_raw_markdown():
    at = new_app(MODELS)
    cards = [m.value for m in at.markdown if m.value.lstrip().startswith("#")]
    assert cards and all("\\*" not in card and "\\#" not in card for card in cards)


def test_streamlit_run_app_py_at_the_top_of_the_checkout_starts_the_studio():
    """The layout promised: `streamlit run app.py` beside charlstm/, with the studio's one config file."""
    from streamlit.testing.v1 import AppTest

    from charlstm_studio.ui import pages

    top = ROOT / "app.py"
    at = AppTest.from_file(str(top), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Let the model write"  # the first visit plays
    at.switch_page(pages.TRAIN).run()
    assert not at.exception and at.title[0].value == "Train a model"
    config = ROOT / ".streamlit" / "config.toml"
    assert config.resolve() == (ROOT / "charlstm_studio" / ".streamlit" / "config.toml").resolve()


def test_each_preset_says_what_it_costs_where_it_is_chosen():
    """An epoch budget's time depends on the text and the machine: it is estimated for this text, here."""
    from charlstm import sizing
    from charlstm.config import PRESETS
    from charlstm.estimate import estimate
    from charlstm_studio.ui import widgets

    at = new_app("app_pages/train.py")
    quick, classic, quality = at.radio(key="train_preset").options
    assert (quick, quality) == ("Quick · 2.5 min", "Quality · 15 min")
    chars = len(at.session_state["corpus"].text)
    planned = sizing.fitted(PRESETS["classic"].config, chars)
    took = widgets.duration(estimate(planned, chars, None).seconds)  # nothing trained here: a laptop's speed
    assert classic == f"Classic · 60 epochs, about {took} here"


def test_an_upload_over_the_quota_is_refused_in_plain_words(runs_root, tmp_path, monkeypatch):
    from charlstm import limits
    from charlstm.bundle import export_bundle
    from charlstm.run import Run

    run = make_run(runs_root, name="mine")
    data = export_bundle(run, tmp_path / "mine.zip").read_bytes()
    monkeypatch.setenv(limits.ENV_QUOTA_MB, str(limits.run_bytes(Run(run)) / 1e6))  # full with the one model
    at = new_app(MODELS)
    assert any("only you see them" in c and "each person may keep" in c for c in texts(at, "caption"))
    at.file_uploader(key="models_upload").set_value(("mine.zip", data, "application/zip")).run()
    assert not at.exception
    (error,) = texts(at, "error")
    assert "Not enough room for this model file" in error and "Delete a model you no longer need" in error
    assert len(list(runs_root.iterdir())) == 1  # nothing was written


def test_a_link_to_someone_elses_model_says_so(runs_root):
    """A stranger's link never shows the model, and the page says why instead of silently using another.
    (The notice comes on the page the link opens; AppTest opens the default page first, so that is the one.)"""
    from studio_helpers import stranger

    theirs = make_run(runs_root, name="their diary")
    at = new_app(None, query={"run": theirs.name}, browser=stranger())
    assert any("not one of yours" in i for i in texts(at, "info"))
    assert "run" not in at.query_params and "their diary" not in " ".join(texts(at, "caption"))
    at = new_app(None, query={"m": theirs.name}, browser=stranger())
    assert any("not one of yours" in i for i in texts(at, "info"))
    assert at.selectbox(key="gen_model").value != theirs.name
    at = new_app(None, query={"run": theirs.name, "m": theirs.name}, browser=stranger())  # Generate's own link
    assert sum("not one of yours" in i for i in texts(at, "info")) == 1  # said once, not once per part
