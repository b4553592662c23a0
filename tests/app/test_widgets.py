"""Small shared widgets: Markdown escaping of names, the shaded text."""

from __future__ import annotations

from studio_helpers import make_run, new_app, texts

from charlstm_studio.ui.charts import surprise_html
from charlstm_studio.ui.widgets import md


def test_names_cannot_inject_markdown():
    wj = "\u2060"  # breaks up "http:" for Streamlit's bare-link finder, invisibly
    assert md("[click](http://x) *bold* $x$ <b>") == rf"\[click\](http:{wj}//x) \*bold\* \$x\$ \<b\>"
    assert md("plain name 1.5: done") == "plain name 1.5: done"


def test_a_hostile_model_name_is_shown_as_typed(runs_root):
    make_run(runs_root, name="[click me](http://evil.example) **loud**")
    at = new_app("app_pages/models.py")
    at.button(key="models_delete").click().run()
    warning = " ".join(texts(at, "warning"))
    assert md("[click me](http://evil.example) **loud**") in warning
    assert r"\[click me\](http:" in warning


def test_the_surprise_shaded_text_escapes_every_character():
    html = surprise_html("<i>&", [0.5, 0.9, 0.1, 1.0], prompt="<script>")
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp;" in html
    assert html.count("<span") == 4
