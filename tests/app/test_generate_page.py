"""Generate page: pick a model, write, move the temperature, compare, shade, next-character chart."""

from __future__ import annotations

from studio_helpers import has, make_run, new_app, texts

GENERATE = "app_pages/generate.py"


def output(at) -> str:
    """The streamed text: the first code block on the page."""
    return at.code[0].value


def test_empty_state_points_to_training():
    at = new_app(GENERATE)
    assert any("no trained model yet" in t for t in texts(at, "info"))
    assert not has(at, "slider", "gen_temperature")


def test_writes_and_a_new_temperature_writes_new_text(runs_root):
    run = make_run(runs_root)
    at = new_app(GENERATE)
    assert at.selectbox(key="gen_model").value == run.name
    first = output(at)
    assert first.startswith("the meaning of ") or first.startswith("The meaning of ")
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
    assert len(output(at)) == len("The meaning of ") + 100


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
    labels = [m for m in texts(at, "markdown") if m.startswith("**Temperature") and m.endswith("**")]
    assert labels == ["**Temperature 0.2**", "**Temperature 0.5**", "**Temperature 1**", "**Temperature 1.2**"]
    compared = [c.value for c in at.code[1:5]]
    assert len(set(compared)) > 1 and all(c.startswith("The meaning of ") for c in compared)


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
    options = at.selectbox(key="gen_model").options
    assert len(options) == 1 and options[0].startswith("good (test text, 1 epoch ·")
