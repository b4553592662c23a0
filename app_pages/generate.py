"""Generate page (the playground): let a model write, and see what temperature does.

Widget keys (for tests and the browser suite):
    gen_model        selectbox      which model writes (newest first; the one just trained preselected)
    gen_prompt       text_area      how the text starts
    gen_temperature  slider         0 to 2; moving it writes a new text at once
    gen_length       slider         characters to write
    gen_seed         number_input   random seed (same seed + settings = same text)
    gen_new_sample   button         new random seed, new text
    gen_shade        toggle         shade each character by how likely the model found it
    gen_compare      toggle         the same start at temperatures 0.2 / 0.5 / 1.0 / 1.2 side by side
    gen_download     download_button  the text as a .txt file
"""

import random

import streamlit as st

from charlstm.charts import char_label, next_char_chart
from charlstm.errors import CharlstmError
from charlstm.generate import Generator
from ui import state, widgets

COMPARE_TEMPERATURES = (0.2, 0.5, 1.0, 1.2)
STREAM_UPDATES = 8  # redraws while a text streams in


def new_seed() -> None:
    st.session_state["gen_seed"] = random.randrange(2**31 - 1)


def choose_model() -> tuple[str, Generator] | None:
    """The model picker; None (with a message on the page) when there is nothing to use."""
    library = state.visible_runs()
    runs = [r for r in library if r.readable and any((r.path / f"{t}.weights.npz").exists() for t in ("best", "last"))]
    broken = sum(1 for r in library if not r.readable)
    if broken:
        st.warning(f"{broken} saved model(s) cannot be read; the Models page says why.")
    if not runs:
        st.info("There is no trained model yet. Train one first: it takes a few clicks and a couple of minutes.")
        st.page_link("app_pages/train.py", label="Go to the Train page", icon=":material/model_training:")
        return None

    by_id = {r.path.name: r for r in runs}
    current = st.session_state.get("gen_model")
    if current not in by_id:
        preferred = [state.model_run(), st.session_state.get("run_id")]
        st.session_state["gen_model"] = next((p for p in preferred if p in by_id), runs[0].path.name)

    def describe(run_id: str) -> str:
        r = by_id[run_id]
        quality = f" · {r.val_bpc:.2f} bits/char" if r.val_bpc is not None else ""
        training = " · still training" if r.state == "running" else ""
        epochs = f"{r.epochs} epoch" + ("" if r.epochs == 1 else "s")
        return f"{r.name} ({r.corpus}, {epochs}{quality}{training})"

    run_id = st.selectbox("Model", list(by_id), key="gen_model", format_func=describe)
    state.set_model(run_id)
    try:
        gen = state.generator(by_id[run_id].path)
    except CharlstmError as exc:
        st.error(f"This model cannot be used: {widgets.md(exc)}")
        return None
    return run_id, gen


def playground(run_id: str, gen: Generator) -> None:
    widgets.keep("gen_prompt", "The meaning of ")
    widgets.keep("gen_temperature", 0.5)
    widgets.keep("gen_length", 400)
    widgets.keep("gen_seed", 1)

    left, right = st.columns([2, 1])
    with left:
        prompt = st.text_area("Start of the text (the prompt)", key="gen_prompt", height=80, max_chars=2000)
    with right:
        temperature = st.slider(
            "Temperature", 0.0, 2.0, step=0.05, key="gen_temperature", help=widgets.HELP["temperature"]
        )
        length = st.slider("Length (characters)", 20, 2000, step=20, key="gen_length")
        c1, c2 = st.columns(2)
        seed = c1.number_input("Random seed", 0, 2**31 - 1, key="gen_seed")
        c2.button("New sample", key="gen_new_sample", on_click=new_seed, icon=":material/casino:")
    widgets.remember("gen_prompt", "gen_temperature", "gen_length", "gen_seed")

    cleaned, unknown = gen.prepare_prompt(prompt)
    if unknown:
        shown = ", ".join(char_label(c) for c in unknown[:20])
        st.warning(
            f"The model never saw these characters: {widgets.md(shown)}. They are read as a space (or left out); "
            "the model can only write characters that were in its training text."
        )
    elif not prompt:
        st.caption("No prompt: the model starts as if at the beginning of a line.")

    t1, t2 = st.columns(2)
    shade = t1.toggle(
        "Shade by likelihood", key="gen_shade", help="Stronger colour: the model found that character more surprising."
    )
    compare = t2.toggle("Compare temperatures", key="gen_compare")

    placeholder = st.empty()
    chars, probs = [], []
    every = max(1, length // STREAM_UPDATES)
    for i, (ch, p) in enumerate(gen.stream(prompt, float(temperature), int(length), int(seed))):
        chars.append(ch)
        probs.append(p)
        if (i + 1) % every == 0:
            placeholder.code(cleaned + "".join(chars), language=None, wrap_lines=True)
    generated = "".join(chars)
    if shade:
        placeholder.html(widgets.shaded_html(generated, probs, prompt=cleaned))
        st.caption(
            "The prompt is in bold. Stronger colour: the model found that character more surprising (hover to see)."
        )
    else:
        placeholder.code(cleaned + generated, language=None, wrap_lines=True)
    st.download_button(
        "Download this text",
        data=cleaned + generated,
        file_name=f"charlstm-{run_id}-T{temperature:g}.txt",
        mime="text/plain",
        key="gen_download",
        on_click="ignore",
        icon=":material/download:",
    )

    if compare:
        st.subheader("The same start, the same random numbers, four temperatures")
        samples = gen.generate(prompt, COMPARE_TEMPERATURES, int(length), int(seed))
        for col, sample in zip(st.columns(len(samples)), samples, strict=True):
            with col:
                st.markdown(f"**Temperature {sample.temperature:g}**")
                widgets.text_block(cleaned + sample.text)

    st.subheader("What would come next?")
    st.caption(
        "The model's chances for the character right after your prompt, at your temperature and as trained (T = 1)."
    )
    chart = next_char_chart(
        gen.vocab.chars,
        gen.next_distribution(prompt, float(temperature)),
        gen.next_distribution(prompt, 1.0),
        float(temperature),
    )
    st.altair_chart(chart, width="stretch")
    widgets.help_box("temperature", "bpc")


st.title("Let the model write")
chosen = choose_model()
if chosen is not None:
    playground(*chosen)
