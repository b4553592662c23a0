"""Corpus page: choose the text the model learns from, and see what the model will see.

Widget keys (for tests and the browser suite):
    corpus_next            button   "Next: train a model"
    corpus_builtin         radio    built-in text (python-docs, nietzsche)
    corpus_builtin_use     button   use the chosen built-in text (downloads Nietzsche once)
    corpus_upload          file_uploader  one or more .txt files
    corpus_paste           text_area      pasted text
    corpus_paste_use       button   use the pasted text
    corpus_lowercase       checkbox lowercase everything
"""

import streamlit as st

from charlstm.corpora import BUILTINS, download_nietzsche, nietzsche_is_cached
from charlstm.errors import CharlstmError
from charlstm.text import PASTED, Corpus, corpus_stats, prepare_text, short_text_advice
from charlstm_studio.ui import pages, state, widgets
from charlstm_studio.ui.charts import char_frequency_chart
from charlstm_studio.ui.corpus_tools import (
    MAX_PASTE_CHARS,
    corpus_from_files,
    training_sequences,
    upload_limits,
)

st.title("Choose a text")
st.markdown(
    "The model learns to write like the text you give it, one character at a time. "
    "A text is always chosen (a built-in one until you give your own), so you can go straight to training."
)
if st.button("Next: train a model →", key="corpus_next", type="primary"):
    st.switch_page(pages.TRAIN)

builtin_tab, upload_tab, paste_tab = st.tabs(["Built-in texts", "Upload files", "Paste text"])

# --- built-in texts --------------------------------------------------------------------------
with builtin_tab:
    names = list(BUILTINS)
    if "_builtin_failed" in st.session_state:  # before the radio is drawn: a drawn widget's value cannot change
        notice, in_use = st.session_state.pop("_builtin_failed")
        st.session_state["_builtin_notice"], st.session_state["corpus_builtin"] = notice, in_use
    widgets.keep("corpus_builtin", state.default_builtin())

    def describe(name: str) -> str:
        corpus = BUILTINS[name]
        if corpus.needs_network and not nietzsche_is_cached():
            return corpus.description + " (Needs an internet connection the first time.)"
        return corpus.description

    choice = st.radio(
        "Built-in text",
        names,
        key="corpus_builtin",
        format_func=lambda n: BUILTINS[n].title,
        captions=[describe(n) for n in names],
    )
    if st.button("Use this text", key="corpus_builtin_use"):
        try:
            if choice == "nietzsche" and not nietzsche_is_cached():
                bar = st.progress(0.0, text="Downloading the Nietzsche text…")

                def progress(done: int, total: int | None) -> None:
                    of = f" of {total / 1000:,.0f} KB" if total else ""
                    bar.progress(
                        min(1.0, done / total) if total else 0.0, text=f"Downloading… {done / 1000:,.0f} KB{of}"
                    )

                try:
                    download_nietzsche(progress)
                finally:
                    bar.empty()  # no bar left under an error
            state.set_corpus(state.builtin_corpus(choice))
            st.success(f"Using {BUILTINS[choice].title}.")
        except CharlstmError as exc:  # the choice goes back to the text in use, and the message stays
            in_use = state.corpus().name
            st.session_state["_builtin_failed"] = (str(exc), in_use if in_use in BUILTINS else state.default_builtin())
            st.rerun()
    failed = st.session_state.pop("_builtin_notice", None)
    if failed:
        st.error(widgets.md(failed))

# --- uploads -----------------------------------------------------------------------------------
with upload_tab:
    limit_mb = st.get_option("server.maxUploadSize")
    files = st.file_uploader(
        "Text files (.txt)",
        type=["txt"],
        accept_multiple_files=True,
        key="corpus_upload",
        help=f"Plain text files. {upload_limits(limit_mb)} Several files are joined into one text.",
    )
    st.caption(
        f"{upload_limits(limit_mb)} Plain text only (UTF-8 is best; Windows and UTF-16 files are read "
        "too). Word or PDF documents: copy the text into a .txt file first."
    )
    signature = tuple(f.file_id for f in files or [])
    if signature and signature != st.session_state.get("_upload_signature"):
        uploaded = corpus_from_files([(f.name, f.getvalue()) for f in files])
        st.session_state["_upload_signature"] = signature
        st.session_state["_upload_errors"] = uploaded.errors
        if uploaded.corpus is not None:
            state.set_corpus(uploaded.corpus)
    if signature:
        for message in st.session_state.get("_upload_errors", ()):
            st.error(widgets.md(message), icon=":material/error:")
        in_use = state.corpus()
        if in_use.source == "files" and not st.session_state.get("_upload_errors"):  # the same words as a paste
            st.success(f"Using {widgets.md(widgets.corpus_title(in_use.name))} ({len(in_use.text):,} characters).")

# --- paste ---------------------------------------------------------------------------------------
with paste_tab:
    in_use = state.corpus()
    if "corpus_paste" not in st.session_state and in_use.source == PASTED and len(in_use.text) <= MAX_PASTE_CHARS:
        st.session_state["corpus_paste"] = in_use.text  # a new session shows the pasted text it still trains on
    pasted = st.text_area("Paste any text here", key="corpus_paste", height=200, max_chars=MAX_PASTE_CHARS)
    if st.button("Use this text", key="corpus_paste_use"):
        needed = (st.session_state.get("train_config") or state.preset_base()).min_corpus_chars()
        if not pasted.strip():
            st.error("There is nothing to use yet: paste some text into the box first.")
        elif len(pasted) < needed:  # one message, before the text is taken (issue 17, item 10)
            st.error(
                f"This text is too short to learn from: {len(pasted):,} characters, and a model needs at least "
                f"{needed:,} (a stretch to practise on and a part kept aside to check it). Paste a longer text: "
                "a few pages work best. The text in use has not changed."
            )
        else:
            state.set_corpus(Corpus(pasted.replace("\r\n", "\n"), "pasted text", PASTED))
            st.success(f"Using your pasted text ({len(pasted):,} characters).")

# --- what the model will see ---------------------------------------------------------------------
corpus = state.corpus()
st.header(f"What the model will see: {widgets.md(widgets.corpus_title(corpus.name))}")
for warning in corpus.warnings:
    st.warning(widgets.md(warning))

if "corpus_lowercase" not in st.session_state:
    st.session_state["corpus_lowercase"] = st.session_state["lowercase"]
st.checkbox(
    "Lowercase everything",
    key="corpus_lowercase",
    on_change=lambda: st.session_state.update(lowercase=st.session_state["corpus_lowercase"]),
)  # no help= icon: a tap on it ticks the box
st.caption("Fewer different characters to learn, so the model learns a little faster; it will never write capitals.")
lowercase = st.session_state["lowercase"]

cached = st.session_state.get("_stats")
if cached and cached[0] is corpus and cached[1] == lowercase:
    stats = cached[2]
else:
    stats = corpus_stats(prepare_text(corpus.text, lowercase))
    st.session_state["_stats"] = (corpus, lowercase, stats)

config = st.session_state.get("train_config") or state.preset_base()
config = config.replace(lowercase=lowercase)
sequences = training_sequences(stats.chars, config)
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Characters", f"{stats.chars:,}")
c2.metric("Different characters", f"{stats.unique_chars:,}")
c3.metric("Lines", f"{stats.lines:,}")
c4.metric("Words", f"{stats.words:,}")
c5.metric(
    "Training sequences",
    f"{sequences:,}",
    help=f"Pieces of {config.seq_len} characters the model practises on with the current training settings "
    f"({config.preset} preset); {config.val_fraction:.0%} of the text is kept aside to check the model.",
)
if stats.chars < config.min_corpus_chars():
    st.error(
        f"This text is too short for training: {stats.chars:,} characters, but the current settings need at "
        f"least {config.min_corpus_chars():,}. Add more text, or choose a shorter sequence length on the Train page."
    )
elif advice := short_text_advice(stats.chars):
    st.warning(advice, icon=":material/short_text:")
elif stats.unique_chars > 500:
    st.info(
        f"This text uses {stats.unique_chars:,} different characters (for example Chinese or Japanese). "
        "That works, but the model needs more text and time to learn each one."
    )

left, right = st.columns([3, 2])
with left:
    st.altair_chart(char_frequency_chart(stats.top_chars[:30], stats.chars), width="stretch")
with right:
    st.caption("The beginning of the text")
    preview = prepare_text(corpus.text[:1500], lowercase)
    widgets.text_block(preview + ("…" if len(corpus.text) > 1500 else ""), height=420)

widgets.remember("corpus_builtin")
