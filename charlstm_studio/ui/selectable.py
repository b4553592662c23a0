"""A coloured text whose characters a person can select by dragging (or with a finger on a phone).

Streamlit has no widget that reports a text selection, so this is a small `st.components.v2` component: the
page's own HTML (one <span> per character, as `charts.activation_html` writes it) is mounted into the page,
and when a selection inside it ends, the component reports which characters it covers as a trigger value
{"start": i, "end": j} (span positions, so the same words twice in a text are told apart). Nothing typed by
a person reaches the HTML unescaped: the HTML comes from our chart builders, which escape every character.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

CHAR = "span[title]"  # one character of the coloured text (activation_html gives each a title: its value)

_JS = """
export default function(component) {
    const { data, parentElement, setTriggerValue } = component;
    let box = parentElement.querySelector(".charlstm-selectable");
    if (!box) {
        box = document.createElement("div");
        box.className = "charlstm-selectable";
        parentElement.appendChild(box);
    }
    if (box._html !== data.html) {
        box.innerHTML = data.html;
        box._html = data.html;
    }
    const CHAR = "__CHAR__";
    const chars = () => Array.from(box.querySelectorAll(CHAR));
    // The character a range boundary sits in; a boundary between characters names the one after it.
    const charAt = (node, offset, isEnd) => {
        let el = node.nodeType === Node.TEXT_NODE ? node.parentElement : node;
        let span = el.closest ? el.closest(CHAR) : null;
        if (span && box.contains(span)) {
            if (isEnd && node.nodeType === Node.TEXT_NODE && offset === 0) return chars().indexOf(span) - 1;
            return chars().indexOf(span);
        }
        const child = el.childNodes[Math.min(offset, el.childNodes.length - 1)];
        span = child && child.closest ? child.closest(CHAR) : null;
        const i = span ? chars().indexOf(span) : -1;
        return isEnd && offset >= el.childNodes.length ? i : (isEnd ? i - 1 : i);
    };
    let last = "";
    const report = () => {
        const sel = window.getSelection();
        if (!sel || sel.isCollapsed || sel.rangeCount === 0) return;
        const r = sel.getRangeAt(0);
        if (!box.contains(r.commonAncestorContainer)) return;
        const start = charAt(r.startContainer, r.startOffset, false);
        const end = charAt(r.endContainer, r.endOffset, true) + 1;
        const picked = JSON.stringify([start, end]);
        if (start < 0 || end <= start || picked === last) return;
        last = picked;
        setTriggerValue("picked", { start: start, end: end });
    };
    let timer = null;
    const later = () => { clearTimeout(timer); timer = setTimeout(report, 600); };  // a phone's handles move
    box.onmouseup = report;
    box.onkeyup = report;
    document.addEventListener("selectionchange", later);
    return () => { document.removeEventListener("selectionchange", later); clearTimeout(timer); };
}
""".replace("__CHAR__", CHAR)

_selectable = st.components.v2.component("charlstm.selectable_text", js=_JS, isolate_styles=False)


def selectable_html(body: str, key: str, on_pick: Callable[[int, int], None]) -> None:
    """Show `body` (one span per character); a finished selection calls on_pick(start, end) before the rerun."""

    def picked() -> None:
        value = getattr(st.session_state.get(key), "picked", None)
        if isinstance(value, dict) and isinstance(value.get("start"), int) and isinstance(value.get("end"), int):
            on_pick(value["start"], value["end"])

    _selectable(data={"html": body}, key=key, on_picked_change=picked)
