"""Models page: the library of trained models. Rename, delete, download, upload, continue training.

Widget keys (for tests and the browser suite):
    models_pick            selectbox      the model the actions below apply to
    models_use             button         open it in the playground
    models_new_name        text_input     new name
    models_rename          button         rename
    models_delete          button         delete (asks first)
    models_delete_confirm  button         yes, delete it
    models_delete_cancel   button         keep it
    models_download        download_button  the model as a .zip bundle
    models_with_timelapse  checkbox       the download carries how it learned (runs with a time-lapse)
    models_more_epochs     number_input   epochs to add
    models_more_minutes    number_input   time limit for them (minutes)
    models_continue        button         continue training
    models_upload          file_uploader  a .zip bundle exported by charlstm
    models_starter_use_<name>   button   write with a ready-made model
    models_starter_copy_<name>  button   copy a ready-made model into your models (to continue training it)
"""

import datetime as dt
import functools

import pandas as pd
import streamlit as st

from charlstm import limits, store
from charlstm.corpora import BUILTINS
from charlstm.errors import CharlstmError
from charlstm.estimate import estimate
from charlstm.jobs import DEFAULT_MAX_SECONDS, STUDIO_MAX_EPOCHS
from charlstm.run import ACTIVE_STATES, MIN_SNAPSHOTS, Run, RunSummary
from charlstm_studio.ui import pages, state, widgets

STATES = {
    "completed": "finished",
    "time": "finished (time limit)",
    "user": "stopped by you",
    "diverged": "stopped: unstable",
    "error": "failed",
    "running": "training",
    "queued": "waiting to train",
    "interrupted": "interrupted",
    "unreadable": "unreadable",
}
PICKED = "_models_picked"  # the model the actions apply to, kept apart from the picker widget (see pick_model)


def do_rename(run_id: str) -> None:
    """Rename (a button callback, so the box can be emptied) and leave a confirmation for the next run."""
    new_name = st.session_state.get("models_new_name", "")
    try:
        state.library().rename(run_id, new_name)
        st.session_state["_models_notice"] = ("ok", f"Renamed to {new_name.strip()}.")
        st.session_state["models_new_name"] = ""
    except CharlstmError as exc:
        st.session_state["_models_notice"] = ("error", str(exc))


def show_notice() -> None:
    notice = st.session_state.pop("_models_notice", None)
    if notice:
        (st.success if notice[0] == "ok" else st.error)(widgets.md(notice[1]))


st.title("Your models")
usage_line = st.empty()  # filled at the end of the page, after an import, copy or delete below has changed it


# --- upload ------------------------------------------------------------------------------------------
def upload_key() -> str:
    """The uploader's key: a new one empties it (Streamlit lets no code clear a file uploader's file)."""
    generation = st.session_state.get("_upload_generation", 0)
    return "models_upload" + (f"_{generation}" if generation else "")


with st.expander("Add a model from a file (.zip)", icon=":material/upload:"):
    upload = st.file_uploader("A model bundle exported from charlstm", type=["zip"], key=upload_key())
    st.caption("Only the model's numbers are read from the file; nothing in it is run as code.")
    if upload is not None and upload.file_id != st.session_state.get("_imported_id"):
        st.session_state["_imported_id"] = upload.file_id
        try:
            added = state.library().upload(upload.getvalue())
            st.session_state["_import_result"] = ("ok", f"Added {added.name} to your models.")
            st.session_state[PICKED] = added.id
        except CharlstmError as exc:
            st.session_state["_import_result"] = ("error", f"{upload.name}: {exc}")
    result = st.session_state.get("_import_result")
    if upload is not None and result:
        (st.success if result[0] == "ok" else st.error)(widgets.md(result[1]))


def continue_training(run: Run, epochs: int, seconds: float) -> None:
    """Queue more training of a run (on the current text if it has none of its own), then show it."""
    try:
        text = None if run.has_text else state.corpus()
        state.library().continue_training(run.id, epochs, seconds, corpus=text)
        state.set_shown_run(run.id)
        st.switch_page(pages.TRAIN)
    except CharlstmError as exc:
        st.error(widgets.md(exc))


SCORE_COLUMN = "score (bits per character, lower is better)"  # measured on text it never trained on
SIZE_COLUMN = "size (numbers it learnt)"


def library_table(runs: list[RunSummary]) -> None:
    """Every model this session may see, one row each (damaged ones with their problem)."""
    table = pd.DataFrame(  # what a phone shows without scrolling first: name, state, how good
        {
            "name": [r.name for r in runs],
            "state": [STATES.get(r.state, r.state) for r in runs],
            SCORE_COLUMN: [r.val_bpc for r in runs],
            "epochs": [r.epochs for r in runs],
            "text": [widgets.corpus_title(r.corpus) for r in runs],
            "preset": [r.preset for r in runs],
            SIZE_COLUMN: [r.parameters or None for r in runs],
            "created": [dt.datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M") for r in runs],
            "problem": [r.error or "" for r in runs],
        }
    )
    if not any(r.error for r in runs):
        table = table.drop(columns=["problem"])
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "name": st.column_config.TextColumn(width="medium"),  # "My model" and "My model (2)" both readable
            SCORE_COLUMN: st.column_config.NumberColumn(format="%.3f", help=widgets.HELP["bpc"]),
            SIZE_COLUMN: st.column_config.NumberColumn(format="localized"),
        },
    )
    widgets.help_box("bpc")


def pick_model(runs: list[RunSummary]) -> RunSummary:
    """The model the actions below apply to: the one picked last, else the playground's, else the newest."""
    by_id = {r.path.name: r for r in runs}
    if st.session_state.get("_models_pick_next") in by_id:  # a copy made in the last run (issue 17, item 1)
        st.session_state[PICKED] = st.session_state.pop("_models_pick_next")
    if st.session_state.get(PICKED) not in by_id:
        preferred = [state.playground_model(), st.session_state.get("run_id")]
        st.session_state[PICKED] = next((p for p in preferred if p in by_id), runs[0].path.name)
    # The picker's labels hold the names, so a rename makes Streamlit draw it as a new widget, which would
    # start again at the first model (and Delete would then name another one): it is set from PICKED each time.
    st.session_state["models_pick"] = st.session_state[PICKED]
    run_id = st.selectbox(
        "Model",
        list(by_id),
        key="models_pick",
        format_func=lambda i: f"{by_id[i].name} · {STATES.get(by_id[i].state, by_id[i].state)}",
        on_change=lambda: st.session_state.update({PICKED: st.session_state["models_pick"]}),
    )
    return by_id[run_id]


def use_and_share(run: RunSummary) -> None:
    if not (run.readable and run.run.has_model):
        return
    if st.button("Write with this model →", key="models_use", type="primary"):
        state.set_playground_model(run.path.name)
        st.switch_page(pages.GENERATE)
    has_timelapse = len(run.run.snapshots()) >= MIN_SNAPSHOTS
    timelapse = has_timelapse and st.checkbox("With how it learned", key="models_with_timelapse")
    if timelapse:
        st.caption(
            "The snapshots of its training travel too, so whoever opens it can watch it learn. The file is about "
            "ten times larger. Like the model, they hold numbers only, never your text."
        )
    st.download_button(
        "Download as a file (.zip)",
        data=functools.partial(state.library().export, run.path.name, timelapse=timelapse),
        file_name=f"{store.slugify(run.name)}.zip",
        mime="application/zip",
        key="models_download",
        on_click="ignore",
        icon=":material/download:",
    )


def continue_form(run: RunSummary) -> None:
    """More epochs or minutes, whichever ends first; the estimate says which one that will be."""
    st.markdown("**Continue training**")
    c1, c2 = st.columns(2)
    more = int(c1.number_input("More epochs", 1, STUDIO_MAX_EPOCHS, value=5, key="models_more_epochs"))
    high = DEFAULT_MAX_SECONDS / 60.0
    minutes = float(c2.number_input("Time limit (minutes)", 0.1, high, value=10.0, step=1.0, key="models_more_minutes"))
    st.caption(which_ends_first(run.run, more, minutes * 60.0))
    if st.button("Continue training", key="models_continue", icon=":material/play_arrow:"):
        continue_training(run.run, more, minutes * 60.0)
    if not run.run.has_text:
        st.caption(
            "This model came without its training text, so it continues on your current text. Its best model "
            "then starts afresh on that text: a score on another text cannot be compared with it."
        )


def which_ends_first(run: Run, epochs: int, seconds: float) -> str:
    config = run.config()
    text = run.text()
    n_chars = len(text) if text is not None else len(state.corpus().text)
    guess = estimate(config.replace(epochs=epochs, seconds=None), n_chars, state.library().speed(config))
    if guess.seconds <= seconds:
        what = "The epoch ends" if epochs == 1 else f"The {epochs} epochs end"
        return f"{what} first: about {widgets.duration(guess.seconds)} on this computer."
    return (
        f"The time limit ends it first: {epochs} epoch{'' if epochs == 1 else 's'} would take about "
        f"{widgets.duration(guess.seconds)} "
        "on this computer."
    )


def delete_controls(run: RunSummary, training_now: bool) -> None:
    run_id = run.path.name
    if training_now:
        st.caption("This model is training now; stop it on the Train page before deleting it.")
    elif st.session_state.get("_delete_pending") != run_id:
        if st.button("Delete…", key="models_delete", icon=":material/delete:"):
            st.session_state["_delete_pending"] = run_id
            st.rerun()
    else:
        st.warning(f"Delete **{widgets.md(run.name)}** for good? This cannot be undone.")
        yes, no = st.columns(2)
        if yes.button("Yes, delete it", key="models_delete_confirm", type="primary"):
            delete(run)
        if no.button("Keep it", key="models_delete_cancel"):
            st.session_state.pop("_delete_pending", None)
            st.rerun()


def delete(run: RunSummary) -> None:
    run_id = run.path.name
    try:
        state.library().delete(run_id)
    except CharlstmError as exc:
        st.error(widgets.md(exc))
        return
    st.session_state.pop("_delete_pending", None)
    st.session_state.pop("_import_result", None)  # no "Added ..." for a model that is gone...
    st.session_state["_upload_generation"] = st.session_state.get("_upload_generation", 0) + 1  # ...nor its file
    if state.playground_model() == run_id:
        state.set_playground_model(None)
    if st.session_state.get("run_id") == run_id:
        state.set_shown_run(None)
    st.session_state["_models_notice"] = ("ok", f"Deleted {run.name}.")  # shown after the rerun, at the top
    st.rerun()


def library(runs: list[RunSummary]) -> None:
    """The table of models, then actions on the one picked."""
    show_notice()
    library_table(runs)
    run = pick_model(runs)
    training_now = run.state in ACTIVE_STATES
    if run.error:
        st.error(f"{widgets.md(run.error)}. You can delete it.")
    actions, danger = st.columns([3, 2])
    with actions:
        use_and_share(run)
        if run.readable:
            st.text_input("New name", key="models_new_name", max_chars=80, placeholder=run.name)
            st.button("Rename", key="models_rename", icon=":material/edit:", on_click=do_rename, args=(run.path.name,))
        if run.readable and not training_now:
            continue_form(run)
    with danger:
        delete_controls(run, training_now)


def ready_made() -> None:
    """The read-only starter models: write with one, or copy it into your models to continue training."""
    shelf = state.starter_models()
    if not shelf:
        return
    st.subheader("Ready-made models")
    st.caption("Shipped with the studio and read-only. Copy one to continue training it on your own text.")
    for starter in shelf:
        with st.container(border=True):
            bpc = starter.card.get("held_out_bpc")
            quality = f" · {bpc:.2f} bits/char on held-out text" if isinstance(bpc, int | float) else ""
            st.markdown(f"**{widgets.md(starter.title)}**{quality}")
            st.caption(card_words(starter.card))
            with st.expander("Technical details (the model card)"):
                st.markdown(starter.card_text or "No card.")  # our own file, shipped with the studio: real Markdown
            use, copy = st.columns(2)
            if use.button("Write with it →", key=f"models_starter_use_{starter.name}", type="primary"):
                state.set_playground_model(starter.ref)
                st.switch_page(pages.GENERATE)
            if copy.button("Copy to continue training", key=f"models_starter_copy_{starter.name}"):
                copy_starter(starter.ref)


def card_words(card: dict) -> str:
    """A ready-made model in plain words (its card holds the exact settings and command, for the curious)."""
    builtin = BUILTINS.get(card.get("text", ""))
    seconds = card.get("training_seconds")
    took = f" It trained for about {max(1, round(seconds / 60))} minutes." if isinstance(seconds, int | float) else ""
    text = widgets.md(builtin.title if builtin else "a built-in text")
    return f"Learned from {text}.{took} Copy it to teach it more."


def copy_starter(ref: str) -> None:
    """Import the starter's bundle into the models folder; the copy is an ordinary model, picked below."""
    try:
        copy = state.library().copy_starter(ref)
    except CharlstmError as exc:
        st.error(widgets.md(exc))
        return
    st.session_state["_models_pick_next"] = copy.id  # the picker exists already in this run: set it next run
    st.session_state["_models_notice"] = ("ok", f"Copied: {copy.name} is now one of your models.")
    st.rerun()


runs = state.visible_runs()
if runs:
    library(runs)
else:
    show_notice()
    st.info("No models yet. Train one on the Train page, or add a model file above.")
    st.page_link(pages.TRAIN, label="Go to the Train page", icon=":material/model_training:")
ready_made()
usage_line.caption(
    f"Saved on the computer that runs this studio; only you see them. They take "
    f"{limits.megabytes(state.library().usage())} of the {limits.megabytes(limits.quota_bytes())} each person may keep."
)
