"""Inside the LSTM page: ranking, one cell colouring the text, the heatmap, span selection, text sources."""

from __future__ import annotations

import re

import pytest
from studio_helpers import has, make_run, new_app, texts

from charlstm import inside
from charlstm.charts import activation_color
from charlstm.store import load_generator

INSIDE = "app_pages/inside.py"


@pytest.fixture
def no_starters(monkeypatch, tmp_path):
    monkeypatch.setenv("CHARLSTM_STARTERS", str(tmp_path / "none"))


def coloured(at) -> str:
    """The text coloured by one cell: the first HTML block with activation titles."""
    return next(h.proto.body for h in at.get("html") if 'title="+' in h.proto.body or 'title="-' in h.proto.body)


def backgrounds(body: str) -> list[str]:
    return re.findall(r"background: (rgb\(\d+,\d+,\d+\))", body)


def test_nothing_to_look_inside(no_starters):
    at = new_app(INSIDE)
    assert any("no model to look inside" in t for t in texts(at, "info"))


def test_ranking_cell_colouring_and_heatmap_match_the_model(runs_root, no_starters):
    run = make_run(runs_root)
    at = new_app(INSIDE)
    assert not at.exception
    assert len(at.get("vega_lite_chart")) >= 2  # the ranking and the heatmap
    gen = load_generator(run)
    corpus = (run / "corpus.txt").read_text(encoding="utf-8")
    start = at.slider(key="inside_start").value
    trace = gen.trace(corpus[start : start + 600])
    acts = inside.activations(trace, gen.config.cell)
    ranked = inside.rank_cells(acts, trace.text, top=8)
    assert at.selectbox(key="inside_cell").value == ranked[0].cell
    assert any(ranked[0].sentence in m for m in texts(at, "markdown"))
    first = backgrounds(coloured(at))
    assert first == [activation_color(v) for v in acts[:, ranked[0].cell]]
    other = ranked[1].cell
    at.selectbox(key="inside_cell").set_value(other).run()
    assert backgrounds(coloured(at)) == [activation_color(v) for v in acts[:, other]] != first


def test_your_own_text_and_a_span(runs_root, no_starters):
    run = make_run(runs_root)
    at = new_app(INSIDE)
    at.radio(key="inside_source").set_value("Your own text").run()
    at.text_area(key="inside_typed").input('a "quoted" (bit) of text, then more text').run()
    assert not at.exception
    assert "quoted" in "".join(re.findall(r">([^<])</span>", coloured(at)))
    at.slider(key="inside_span").set_value((3, 9)).run()
    gen = load_generator(run)
    trace = gen.trace('a "quoted" (bit) of text, then more text')
    expected = inside.span_cells(inside.activations(trace, gen.config.cell), 3, 9)
    lines = [m for m in texts(at, "markdown") if "over the stretch" in m]
    assert [int(m.split()[2].rstrip(":")) for m in lines] == [c.cell for c in expected]
    if not expected:
        assert any("No cell is on" in t for t in texts(at, "info"))


def test_a_generated_text_source(runs_root, no_starters):
    make_run(runs_root)
    at = new_app(INSIDE)
    at.radio(key="inside_source").set_value("A text it writes").run()
    assert not at.exception and has(at, "selectbox", "inside_cell")
    assert len(backgrounds(coloured(at))) == at.slider(key="inside_length").value


def test_a_stretch_of_a_ready_made_model_is_found_again_in_its_text():
    """Python's documentation starter on its own held-out text: the span's cells and their matches, recomputed."""
    from charlstm.corpora import load_python_docs
    from charlstm.starters import starter_dir

    at = new_app(INSIDE)
    at.selectbox(key="inside_model").set_value("starter:python-docs").run()
    assert at.radio(key="inside_source").value == "A slice of its training text"
    at.slider(key="inside_span").set_value((40, 44)).run()
    assert not at.exception
    gen = load_generator(starter_dir("python-docs"))
    corpus = load_python_docs().decode("utf-8")
    start, length = at.slider(key="inside_start").value, at.slider(key="inside_length").value
    acts = inside.activations(gen.trace(corpus[start : start + length]), "lstm")
    found = inside.span_cells(acts, 40, 44)
    lines = [m for m in texts(at, "markdown") if "over the stretch" in m]
    assert [int(m.split()[2].rstrip(":")) for m in lines] == [c.cell for c in found]
    assert found, "no cell for this stretch: choose another in the test"
    held = int(len(corpus) * (1 - gen.config.val_fraction))
    search = gen.trace(corpus[held : held + 6000])
    runs = inside.matches(inside.activations(search, "lstm"), [c.cell for c in found[:3]])[:8]
    underlined = [h for h in at.get("html") if "underline" in h.proto.body]
    assert len(underlined) == len(runs)


def test_the_playground_and_inside_pages_never_import_tensorflow(tmp_path):
    """In a fresh process (this one may have imported TF for other tests): both pages on a ready-made model."""
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import sys; sys.path[:0] = ['tests/app', 'tests']\n"
        "from studio_helpers import new_app\n"
        "at = new_app('app_pages/generate.py')\n"
        "at.switch_page('app_pages/inside.py').run()\n"
        "assert not at.exception and at.get('vega_lite_chart')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {"PATH": "/usr/bin:/bin", "CHARLSTM_HOME": str(tmp_path / "home"), "KERAS_HOME": str(tmp_path / "k")}
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
