"""Small shared widgets: Markdown escaping of names, the shaded text."""

from __future__ import annotations

import pytest
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


def _picker_following_the_address():
    import streamlit as st

    from charlstm_studio.ui.model_picker import follow_address, show_in_address

    follow_address("picked", ["mine-1", "mine-2"])
    picked = st.selectbox("Model", ["mine-1", "mine-2"], key="picked")
    show_in_address(picked)


@pytest.mark.parametrize(
    ("linked", "picked", "refused"),
    [("mine-2", "mine-2", False), ("someone-elses", "mine-1", True), (None, "mine-1", False)],
)
def test_a_link_picks_a_model_this_browser_may_use_and_says_so_otherwise(linked, picked, refused):
    """Every model picker follows `?m=` once: yours is picked; anything else is refused in words, never shown."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_picker_following_the_address)
    if linked:
        at.query_params["m"] = linked
    at.run()
    assert at.selectbox(key="picked").value == picked and at.query_params["m"] == picked
    assert any("not one of yours" in i.value for i in at.info) == refused
    at.selectbox(key="picked").set_value("mine-1" if picked == "mine-2" else "mine-2").run()
    assert at.query_params["m"] == at.selectbox(key="picked").value  # the address follows the picker
    assert not at.info  # said once
