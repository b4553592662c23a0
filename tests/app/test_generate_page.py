"""Generate page: pick a model, write, move the temperature, compare, shade, next-character chart."""

from __future__ import annotations

from studio_helpers import TEXT, has, make_run, new_app, stranger, texts

GENERATE = "app_pages/generate.py"
OWN_START = "The quick brown "  # the prompt a model of TEXT starts with: the first three words of its text


def output(at) -> str:
    """The streamed text: the first code block on the page."""
    return at.code[0].value


def compare_headers(at) -> list[str]:
    """The comparison's column headers ("**Temperature 0.5 (your slider)**"), not the help box's bold words."""
    return [m for m in texts(at, "markdown") if m.startswith("**Temperature ") and m.endswith("**")]


def test_empty_state_points_to_training(monkeypatch, tmp_path):
    monkeypatch.setenv("CHARLSTM_STARTERS", str(tmp_path))  # no ready-made models either
    at = new_app(GENERATE)
    assert any("no trained model yet" in t for t in texts(at, "info"))
    assert not has(at, "slider", "gen_temperature")


def test_writes_and_a_new_temperature_writes_new_text(runs_root):
    run = make_run(runs_root)
    at = new_app(GENERATE)
    assert at.selectbox(key="gen_model").value == run.name
    first = output(at)
    assert first.startswith(OWN_START)
    assert len(first) >= 400
    at.slider(key="gen_temperature").set_value(1.5).run()
    assert not at.exception
    assert output(at) != first
    at.slider(key="gen_temperature").set_value(0.5).run()
    assert output(at) == first  # same seed and settings: the same text again
    assert at.get("vega_lite_chart")  # the next-character chart
    assert "tiny" in " ".join(texts(at, "caption"))  # the sidebar names the model


def test_new_sample_and_length(runs_root):
    make_run(runs_root)
    at = new_app(GENERATE)
    at.slider(key="gen_temperature").set_value(1.0).run()  # random weights can be near-deterministic at 0.5
    first = output(at)
    seed = at.number_input(key="gen_seed").value
    at.button(key="gen_new_sample").click().run()
    assert at.number_input(key="gen_seed").value != seed
    outputs = [output(at)]
    for _ in range(2):  # two seeds may write the same text by chance; three in a row will not
        at.button(key="gen_new_sample").click().run()
        outputs.append(output(at))
    assert any(text != first for text in outputs)
    at.slider(key="gen_length").set_value(100).run()
    shown = output(at)  # a code block does not show the trailing line breaks a random model may write
    assert len(shown.rstrip()) <= len(OWN_START) + 100 <= len(shown) + 5


def test_unseen_characters_are_pointed_out(runs_root):
    make_run(runs_root)
    at = new_app(GENERATE)
    at.text_area(key="gen_prompt").input("Zebra € 🦓").run()
    assert not at.exception
    warning = " ".join(texts(at, "warning"))
    assert "never saw" in warning and "€" in warning and "🦓" in warning
    at.text_area(key="gen_prompt").input("").run()
    assert not at.exception and output(at)


def test_compare_view_shows_four_temperatures_from_the_same_start(runs_root):
    make_run(runs_root)
    at = new_app(GENERATE)
    at.toggle(key="gen_compare").set_value(True).run()
    assert not at.exception
    labels = compare_headers(at)
    slider = "**Temperature 0.5 (your slider)**"
    assert labels == ["**Temperature 0.2**", slider, "**Temperature 1**", "**Temperature 1.2**"]
    compared = [c.value for c in at.code[1:5]]
    assert len(set(compared)) > 1 and all(c.startswith(OWN_START) for c in compared)
    assert compared[1] == output(at)  # the slider's column is the text above


def test_compare_includes_the_slider_temperature(runs_root):
    make_run(runs_root)
    at = new_app(GENERATE)
    at.slider(key="gen_temperature").set_value(0.8).run()
    at.toggle(key="gen_compare").set_value(True).run()
    labels = compare_headers(at)
    assert labels == [
        "**Temperature 0.2**",
        "**Temperature 0.5**",
        "**Temperature 0.8 (your slider)**",
        "**Temperature 1**",
        "**Temperature 1.2**",
    ]
    assert at.code[3].value == output(at)


def test_shading_escapes_the_text(runs_root):
    make_run(runs_root, text="<b>bold</b> & <script>x</script> " * 200)
    at = new_app(GENERATE)
    at.text_area(key="gen_prompt").input("<b>").run()
    at.toggle(key="gen_shade").set_value(True).run()
    assert not at.exception
    html = at.get("html")[0].proto.body
    assert "<script>" not in html and "&lt;" in html and "likely" in html


def test_download_offers_the_text(runs_root):
    make_run(runs_root)
    at = new_app(GENERATE)
    button = at.get("download_button")[0]
    assert "Download" in button.proto.label


def test_a_damaged_model_is_a_message(runs_root):
    make_run(runs_root, name="good")
    run = make_run(runs_root, name="damaged")
    (run / "best.weights.npz").write_bytes(b"not a weights file")
    at = new_app(GENERATE)
    assert not at.exception
    assert any("cannot be read" in w for w in texts(at, "warning"))
    options = [o for o in at.selectbox(key="gen_model").options if "ready-made" not in o]
    assert len(options) == 1 and options[0].startswith("good (test text, 1 epoch ·")


# --- issue 10: play first -------------------------------------------------------------------------------------
def test_settings_come_back_from_the_url_after_a_reload(runs_root):
    make_run(runs_root)
    at = new_app(GENERATE)
    at.text_area(key="gen_prompt").input("A fox ").run()
    at.slider(key="gen_temperature").set_value(1.3).run()
    at.slider(key="gen_length").set_value(120).run()
    url = {k: at.query_params[k] for k in ("p", "t", "n")}
    assert url == {"p": ["A fox "], "t": ["1.3"], "n": ["120"]} or url == {"p": "A fox ", "t": "1.3", "n": "120"}
    reloaded = new_app(GENERATE, query={k: (v[0] if isinstance(v, list) else v) for k, v in url.items()})
    assert reloaded.text_area(key="gen_prompt").value == "A fox "
    assert reloaded.slider(key="gen_temperature").value == 1.3
    assert reloaded.slider(key="gen_length").value == 120
    assert output(reloaded) == output(at)


def test_a_broken_url_falls_back_to_safe_settings(runs_root):
    make_run(runs_root)
    at = new_app(GENERATE, query={"t": "nan", "n": "99999", "p": "x" * 5000})
    assert not at.exception
    assert at.slider(key="gen_temperature").value == 0.5
    assert at.slider(key="gen_length").value == 2000
    assert len(at.text_area(key="gen_prompt").value) == 2000


def test_a_next_character_button_writes_it(runs_root):
    make_run(runs_root)
    at = new_app(GENERATE)
    before = at.text_area(key="gen_prompt").value
    labels = [b.label for b in at.button if (b.key or "").startswith("gen_next_")]
    assert len(labels) == 10
    at.button(key="gen_next_0").click().run()
    after = at.text_area(key="gen_prompt").value
    assert len(after) == len(before) + 1 and after.startswith(before)
    from charlstm_studio.ui.charts import char_label

    assert labels[0].startswith(char_label(after[-1]))


def test_shading_has_a_legend_with_numbers(runs_root):
    make_run(runs_root)
    at = new_app(GENERATE)
    at.toggle(key="gen_shade").set_value(True).run()
    bodies = [h.proto.body for h in at.get("html")]
    assert any("bits or less" in b and "bits or more" in b for b in bodies)


def test_score_your_own_text(runs_root):
    run = make_run(runs_root, text=TEXT * 20 + "<b>&</b> " * 20)
    at = new_app(GENERATE)
    at.text_area(key="gen_score_text").input("The lazy dog <b>").run()
    assert not at.exception
    shaded = [h.proto.body for h in at.get("html") if "bits" in h.proto.body and "likely" in h.proto.body]
    assert shaded and ">&lt;</span>" in shaded[0] and ">&gt;</span>" in shaded[0] and "<b>T</b>" in shaded[0]
    from charlstm.store import load_generator

    expected = load_generator(run).score("The lazy dog <b>").bpc
    said = next(m for m in texts(at, "markdown") if "bits per character" in m)
    assert f"{expected:.2f} bits per character" in said


def test_first_visit_with_an_empty_models_folder_writes_with_a_ready_made_model():
    """No clicks: a ready-made model is chosen, text is written, and the slider changes it."""
    from charlstm.starters import list_starters

    shipped = list_starters()
    assert shipped, "assets/models has no starter models: run make starter-models"
    at = new_app(GENERATE)
    assert at.selectbox(key="gen_model").value == shipped[0].ref
    first = output(at)
    assert first.startswith("The meaning of ") and len(first) > 400
    at.slider(key="gen_temperature").set_value(1.2).run()
    assert output(at) != first and not at.exception


def test_your_own_model_comes_before_the_ready_made_ones(runs_root):
    run = make_run(runs_root)
    at = new_app(GENERATE)
    options = at.selectbox(key="gen_model").options
    assert at.selectbox(key="gen_model").value == run.name and options[0].startswith("tiny")
    assert any("ready-made" in o for o in options[1:])


def flat(node) -> list:
    """Every element of the page in drawing order (depth first)."""
    children = getattr(node, "children", None)
    if not children:
        return [node]
    return [leaf for _, child in sorted(children.items()) for leaf in flat(child)]


def test_the_text_comes_right_after_the_temperature_slider(runs_root):
    """On a phone the columns stack; the text must still follow the slider directly, so a change is visible."""
    make_run(runs_root)
    at = new_app(GENERATE)
    order = [(e.type, getattr(e, "key", None)) for e in flat(at.main)]
    slider = order.index(("slider", "gen_temperature"))
    assert order[slider + 1][0] == "code"
    assert order.index(("slider", "gen_length")) > slider + 1


def test_a_model_you_just_trained_wins_over_a_ready_made_one_and_a_later_pick_wins_over_it(runs_root):
    at = new_app(GENERATE)
    assert at.selectbox(key="gen_model").value.startswith("starter:")
    run = make_run(runs_root, name="mine")
    at.session_state["model_run"] = run.name  # what the Train page's Start picks (test_start_watch_reattach_stop)
    at.session_state["run_id"] = run.name  # ...and the run the Train page shows
    at.switch_page("app_pages/models.py").run()  # leaving the page drops the picker's key, as in a browser
    assert "mine" in " ".join(texts(at, "caption"))  # the sidebar names the model the pages play
    at.switch_page(GENERATE).run()
    assert at.selectbox(key="gen_model").value == run.name
    at.selectbox(key="gen_model").set_value("starter:python-docs").run()
    at.switch_page("app_pages/models.py").run()
    assert "Python's documentation" in " ".join(texts(at, "caption"))
    at.switch_page(GENERATE).run()
    assert at.selectbox(key="gen_model").value == "starter:python-docs"  # picked after training: it stays


def test_how_it_learned_scrubs_through_the_snapshots(runs_root):
    """Each moment writes the same start with the same random numbers; only the weights differ."""
    import numpy as np

    from charlstm.run import Run
    from charlstm.timelapse import frame

    run = Run(make_run(runs_root))
    best, _ = run.load_checkpoint("best")
    rng = np.random.default_rng(3)
    for at_epoch, scale in ((0.1, 3.0), (0.5, 1.0), (1.0, 0.0)):  # from noise to the trained weights
        run.save_snapshot(at_epoch, 3.0 - at_epoch, {k: v + rng.normal(0, scale, v.shape) for k, v in best.items()})
    at = new_app(GENERATE)
    assert not at.exception
    scrubber = at.select_slider(key="gen_timelapse")
    assert scrubber.value == 2  # the end of its training first
    shots = run.snapshots()
    prompt = OWN_START  # the page's prompt
    last = next(c.value for c in at.code if c.value == prompt + frame(run, shots[2].number, prompt, 300, 1, 0.5))
    scrubber.set_value(0).run()
    first = prompt + frame(run, shots[0].number, prompt, 300, 1, 0.5)
    assert first != last and any(c.value == first for c in at.code)
    assert any("Where that moment is" in c.proto.spec for c in at.get("vega_lite_chart"))


def test_a_ready_made_model_shows_how_it_learned_on_the_first_visit(runs_root, tmp_path, monkeypatch):
    """`make starter-models` exports each with its time-lapse: a newcomer can scrub it before training."""
    from charlstm import starters
    from charlstm.bundle import export_bundle
    from charlstm.run import Run

    made = Run(make_run(tmp_path / "maker"))
    best, _ = made.load_checkpoint("best")
    for at_epoch in (0.1, 1.0):
        made.save_snapshot(at_epoch, 3.0 - at_epoch, {k: v * at_epoch for k, v in best.items()})
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    export_bundle(made.path, starters.bundle_path("nietzsche", shelf), timelapse=True)
    monkeypatch.setenv("CHARLSTM_STARTERS", str(shelf))
    at = new_app(GENERATE)
    assert not at.exception
    assert at.select_slider(key="gen_timelapse").value == 1  # the end of its training first


def test_no_scrubber_without_snapshots(runs_root):
    make_run(runs_root)
    at = new_app(GENERATE)
    assert not has(at, "select_slider", "gen_timelapse")


# --- issue 18: sampling beyond temperature ---------------------------------------------------------------
def url_of(at) -> dict[str, str]:
    return {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}


def test_top_k_one_writes_the_likeliest_text_at_any_temperature(runs_root):
    make_run(runs_root)
    at = new_app(GENERATE)
    at.slider(key="gen_temperature").set_value(0.0).run()
    greedy = output(at)
    at.slider(key="gen_temperature").set_value(1.5).run()
    assert output(at) != greedy
    at.slider(key="gen_top_k").set_value(1).run()
    assert not at.exception and output(at) == greedy


def test_the_loop_guard_and_top_p_write_what_the_core_writes(runs_root):
    from charlstm.sampling import Sampling
    from charlstm.store import load_generator

    gen = load_generator(make_run(runs_root))
    at = new_app(GENERATE)
    top_k, top_p = at.slider(key="gen_top_k"), at.slider(key="gen_top_p")
    assert (top_k.min, top_k.max, top_k.step, top_k.value) == (0, 40, 1, 0)  # off at first
    assert (top_p.min, top_p.max, top_p.step, top_p.value) == (0.05, 1.0, 0.05, 1.0)
    at.slider(key="gen_temperature").set_value(0.2).run()
    at.select_slider(key="gen_no_repeat").set_value(8).run()
    at.slider(key="gen_top_p").set_value(0.9).run()
    expected = gen.generate(OWN_START, [Sampling(0.2, top_p=0.9, no_repeat=8)], 400, seed=1)[0].text
    assert output(at) == OWN_START + expected
    at.slider(key="gen_top_k").set_value(2).run()  # the chart: at least eight of its ten characters are removed
    (removed,) = [c for c in texts(at, "caption") if c.startswith("Your settings remove")]
    assert removed.count(", ") >= 7, removed
    assert any("with top-k 2, top-p 0.9, the loop guard at 8" in c.proto.spec for c in at.get("vega_lite_chart"))


def test_the_comparison_keeps_the_settings_and_adds_the_temperature_without_them(runs_root):
    make_run(runs_root)
    at = new_app(GENERATE)
    at.slider(key="gen_top_k").set_value(3).run()
    at.toggle(key="gen_compare").set_value(True).run()
    headers = compare_headers(at)
    assert headers[-1] == "**Temperature 0.5, nothing else**" and "**Temperature 0.5 (your slider)**" in headers
    assert any("top-k 3" in c for c in texts(at, "caption"))
    plain = at.code[-1].value  # the last column: the slider's temperature alone, as the page writes it without top-k
    at.slider(key="gen_top_k").set_value(0).run()
    assert output(at) == plain


def test_a_hand_edited_address_never_breaks_the_page(runs_root):
    make_run(runs_root)
    at = new_app(GENERATE, query={"nr": "1", "k": "-4", "tp": "0", "seed": "x"})
    assert not at.exception
    assert at.select_slider(key="gen_no_repeat").value == 2 and at.slider(key="gen_top_k").value == 0
    assert at.slider(key="gen_top_p").value == 0.05 and at.number_input(key="gen_seed").value == 1


def test_a_copied_link_reproduces_the_whole_setup(runs_root):
    run = make_run(runs_root)
    at = new_app(GENERATE)
    at.slider(key="gen_temperature").set_value(0.9).run()
    at.slider(key="gen_top_k").set_value(5).run()
    at.select_slider(key="gen_no_repeat").set_value(6).run()
    at.button(key="gen_new_sample").click().run()
    at.toggle(key="gen_compare").set_value(True).run()
    url = url_of(at)
    assert url["m"] == run.name and url["k"] == "5" and url["nr"] == "6" and url["c"] == "1" and url["seed"] != "1"
    again = new_app(GENERATE, query=url, browser=at.session_state["_owner"])
    assert [c.value for c in again.code] == [c.value for c in at.code]  # the text and the comparison
    stranger_view = new_app(GENERATE, query=url, browser=stranger())  # someone else's model: not theirs
    assert stranger_view.selectbox(key="gen_model").value != run.name and not stranger_view.exception


def test_what_it_copies_from_its_training_text_is_marked_with_its_share(runs_root):
    """A model whose training text holds exactly what it writes recites it all; a fresh text copies nothing."""
    from charlstm.run import Run
    from charlstm.store import load_generator

    run = Run(make_run(runs_root))
    at = new_app(GENERATE)
    assert any("Nothing here is copied" in m for m in texts(at, "markdown"))  # random weights: no recitation
    at.text_area(key="gen_prompt").set_value("A model ").run()  # typed: it stays when the text changes below
    written = load_generator(run.path).generate("A model ", [0.5], 400, seed=1)[0].text
    run.set_text(written[:250] + " " * 5 + TEXT * 40)  # the first 250 characters are in its training text
    at.run()
    (note,) = [m for m in texts(at, "markdown") if "copied word for word" in m]
    assert "62% of this text" in note and "1 stretch " in note  # 250 of 400 characters
    marked = next(h.proto.body for h in at.get("html") if 'title="copied"' in h.proto.body)
    assert marked.count('title="copied"') == 1
    at.toggle(key="gen_compare").set_value(True).run()
    assert "Copied from its training text: 62%" in texts(at, "caption")  # the slider's temperature, compared


def test_a_prompt_nobody_typed_follows_the_model_and_a_typed_one_stays(runs_root):
    """Python's documentation does not start "The meaning of ": switching models brings each one's words."""
    make_run(runs_root, text="Dear diary\n\nToday I planted tomatoes and beans.\n" * 400)
    at = new_app(GENERATE)
    assert at.text_area(key="gen_prompt").value == "Today I planted "  # your text's first line of three words
    assert "p" not in at.query_params  # words of a private text never go into a link nobody asked to share
    at.selectbox(key="gen_model").set_value("starter:python-docs").run()
    assert at.text_area(key="gen_prompt").value == "Return the " and output(at).startswith("Return the ")
    at.selectbox(key="gen_model").set_value("starter:nietzsche").run()
    assert at.text_area(key="gen_prompt").value == "The meaning of "
    at.text_area(key="gen_prompt").set_value("Once upon ").run()
    at.selectbox(key="gen_model").set_value("starter:python-docs").run()
    assert at.text_area(key="gen_prompt").value == "Once upon " and output(at).startswith("Once upon ")
    assert at.query_params["p"] in ("Once upon ", ["Once upon "])  # typed: the link writes the same text


def test_a_linked_prompt_stays_with_the_linked_model():
    at = new_app(GENERATE, query={"m": "starter:python-docs", "p": "Ein Mann "})
    assert at.selectbox(key="gen_model").value == "starter:python-docs"
    assert at.text_area(key="gen_prompt").value == "Ein Mann "
