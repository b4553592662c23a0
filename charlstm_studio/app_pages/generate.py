"""Generate page (the playground): let a model write, and see what temperature does.

Widget keys (for tests and the browser suite):
    gen_model        selectbox      which model writes: yours (newest first), then the ready-made ones
    gen_prompt       text_area      how the text starts
    gen_temperature  slider         0 to 2; moving it writes a new text at once (the text sits right below it)
    gen_top_k        slider         only the k likeliest characters (0: off)        } in "More ways to pick
    gen_top_p        slider         only the likeliest that make up p (1: off)      } the next character"
    gen_no_repeat    slider         loop guard: never repeat N characters (0: off)  }
    gen_length       slider         characters to write
    gen_seed         number_input   random seed (same seed + settings = same text)
    gen_new_sample   button         new random seed, new text
    gen_shade        toggle         shade each character by how surprising the model found it (with a legend)
    gen_compare      toggle         the same start at 0.2 / 0.5 / 1.0 / 1.2 and the slider's temperature
    gen_text         container      the written text (a code block, or HTML when shaded or copies are marked)
    gen_download     download_button  the text as a .txt file
    gen_next_<i>     button         add the i-th likeliest next character to the prompt (step-by-step writing)
    gen_score_text   text_area      your own text, shaded by how surprising the model finds it
    gen_timelapse    select_slider  how it learned: the moment of its training that writes

The whole setup sits in the URL (?p=…&t=…&n=…&seed=…&k=…&tp=…&nr=…&c=…), so a reload or a copied link writes the
same text again (with the same model: yours stay yours, a stranger's page falls back to a ready-made one). A prompt
nobody typed is left out: it follows the model, and may be the first words of a private text.
"""

import dataclasses
import math
import random
import time

import numpy as np
import streamlit as st

from charlstm import limits
from charlstm.config import SEED_TEMPERATURES
from charlstm.errors import CharlstmError
from charlstm.generate import Generator
from charlstm.sampling import Sampling
from charlstm_studio.ui import pages, state, widgets
from charlstm_studio.ui.charts import (
    char_label,
    copied_html,
    next_char_chart,
    surprise_html,
    surprise_legend_html,
    surprise_scale,
    top_next_chars,
)
from charlstm_studio.ui.copies import copies_in, copy_words
from charlstm_studio.ui.model_picker import follow_address, show_in_address
from charlstm_studio.ui.timelapse import how_it_learned

STREAM_EVERY_SECONDS = 0.15  # a text written faster than this appears at once: no redraws to wait for
DEFAULTS = {
    "gen_prompt": "The meaning of ",
    "gen_temperature": 0.5,
    "gen_length": 400,
    "gen_seed": 1,
    "gen_top_k": 0,
    "gen_top_p": 1.0,
    "gen_no_repeat": 0,
    "gen_compare": False,
}
URL_PARAMS = {
    "gen_prompt": "p",
    "gen_temperature": "t",
    "gen_length": "n",
    "gen_seed": "seed",  # not "s": an old address held a private key there, which the studio removes
    "gen_top_k": "k",
    "gen_top_p": "tp",
    "gen_no_repeat": "nr",
    "gen_compare": "c",
}
TEMPERATURE_RANGE, LENGTH_RANGE, PROMPT_MAX = (0.0, 2.0, 0.05), (20, 2000, 20), 2000
RANGES = {  # (low, high, step) of each number a URL may set: snapped to what its widget allows
    "gen_temperature": TEMPERATURE_RANGE,
    "gen_length": LENGTH_RANGE,
    "gen_seed": (0, 2**31 - 1, 1),
    "gen_top_k": (0, 40, 1),
    "gen_top_p": (0.05, 1.0, 0.05),
    "gen_no_repeat": (0, 40, 1),
}
NO_REPEAT_STEPS = (0, *range(2, 41))  # a loop guard of 1 would forbid every character written before: no such step


def bounds(key: str) -> dict:
    """A number widget's min_value, max_value and step, as RANGES holds them (by name: a third positional
    argument of st.slider would be its value, not its step)."""
    low, high, step = RANGES[key]
    return {"min_value": low, "max_value": high, "step": step}


def new_seed() -> None:
    st.session_state["gen_seed"] = random.randrange(2**31 - 1)


def _from_url(key: str, raw: str):
    """A setting from the URL, checked and snapped to the widget's range; None when it is not usable."""
    try:
        if key == "gen_prompt":
            return raw[:PROMPT_MAX]
        if key == "gen_compare":
            return raw == "1"
        low, high, step = RANGES[key]
        value = float(raw)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value):
        return None
    snapped = round(min(high, max(low, value)) / step) * step
    if key == "gen_no_repeat" and snapped == 1:
        snapped = 2
    return round(snapped, 2) if isinstance(step, float) else int(snapped)


def restore_settings() -> None:
    """Once per browser session: settings from the URL (a reload), else those kept from another page."""
    if not st.session_state.get("_gen_url_read"):
        st.session_state["_gen_url_read"] = True
        for key, param in URL_PARAMS.items():
            value = _from_url(key, st.query_params.get(param)) if param in st.query_params else None
            if value is not None and f"_keep_{key}" not in st.session_state:
                st.session_state[f"_keep_{key}"] = value
    for key, default in DEFAULTS.items():
        widgets.keep(key, default)


def follow_model_prompt(model_id: str) -> None:
    """A prompt nobody typed follows the model: Python's documentation starts "Return the ", a diary its first
    words. A prompt the person typed (or a link brought) stays whatever model they pick."""
    suggested = state.suggested_prompt(model_id)
    placed = st.session_state.get("_gen_prompt_placed", DEFAULTS["gen_prompt"])
    if st.session_state["gen_prompt"] == placed:
        st.session_state["gen_prompt"] = suggested
    st.session_state["_gen_prompt_placed"] = suggested


def save_settings() -> None:
    """Keep the settings for other pages and in the URL."""
    widgets.remember(*DEFAULTS)
    for key, param in URL_PARAMS.items():
        value = st.session_state[key]
        if key == "gen_prompt" and value == st.session_state.get("_gen_prompt_placed"):
            # A prompt nobody typed stays out of the address: it may be the first words of a private text,
            # and a reload works it out again. A typed one is the person's own choice to share.
            if param in st.query_params:
                del st.query_params[param]
            continue
        value = ("1" if value else "0") if isinstance(value, bool) else str(value)
        if st.query_params.get(param) != value:
            st.query_params[param] = value


def choose_model() -> tuple[str, Generator] | None:
    """The model picker: your models, then the ready-made ones. None (with a message) when there is none."""
    runs = state.usable_runs()
    broken = sum(1 for r in state.visible_runs() if not r.readable)
    if broken:
        st.warning(f"{broken} saved model(s) cannot be read; the Models page says why.")
    starters = {s.ref: s for s in state.starter_models()}
    by_id = {r.path.name: r for r in runs}
    if not by_id and not starters:
        st.info("There is no trained model yet. Train one first: it takes a few clicks and a couple of minutes.")
        st.page_link(pages.TRAIN, label="Go to the Train page", icon=":material/model_training:")
        return None
    follow_address("gen_model", {**by_id, **starters})
    if st.session_state.get("gen_model") not in {**by_id, **starters}:
        st.session_state["gen_model"] = state.playground_default(list(by_id), list(starters))

    def describe(model_id: str) -> str:
        if model_id in starters:
            bpc = starters[model_id].card.get("held_out_bpc")
            return starters[model_id].title + (f" · {bpc:.2f} bits/char" if isinstance(bpc, int | float) else "")
        r = by_id[model_id]
        quality = f" · {r.val_bpc:.2f} bits/char" if r.val_bpc is not None else ""
        training = " · still training" if r.state == "running" else ""
        epochs = f"{r.epochs} epoch" + ("" if r.epochs == 1 else "s")
        return f"{r.name} ({widgets.corpus_title(r.corpus)}, {epochs}{quality}{training})"

    model_id = st.selectbox(
        "Model", [*by_id, *starters], key="gen_model", format_func=describe, help=widgets.TOOLTIP["bpc"]
    )
    state.set_playground_model(model_id)
    show_in_address(model_id)
    try:
        gen = state.generator(model_id)
    except CharlstmError as exc:
        st.error(f"This model cannot be used: {widgets.md(exc)}")
        return None
    return model_id, gen


def prompt_warning(unknown: list[str], prompt: str) -> None:
    if unknown:
        shown = ", ".join(char_label(c) for c in unknown[:20])
        st.warning(
            f"The model never saw these characters: {widgets.md(shown)}. They are read as a space (or left out); "
            "the model can only write characters that were in its training text."
        )
    elif not prompt:
        st.caption("No prompt: the model starts as if at the beginning of a line.")


def write(model_id: str, gen: Generator, cleaned: str, sampling: Sampling, length: int, seed: int) -> str:
    """Stream the text into the page right under the slider, then mark what it copied; returns prompt + text.

    `cleaned` is the prompt as the model reads it (`Generator.prepare_prompt`, worked out once per rerun).
    """
    placeholder = st.container(key="gen_text").empty()  # one place for the text, code block or marked HTML
    chars, probs = [], []
    shown_at = time.monotonic()
    for ch, p in gen.stream(cleaned, sampling, length, seed):
        chars.append(ch)
        probs.append(p)
        if time.monotonic() - shown_at >= STREAM_EVERY_SECONDS:  # a long or slow text appears as it is written
            placeholder.code(cleaned + "".join(chars), language=None, wrap_lines=True)
            shown_at = time.monotonic()
    generated = "".join(chars)
    copies = copies_in(model_id, generated)
    copied = copies.mask() if copies is not None else np.zeros(len(generated), bool)
    if st.session_state.get("gen_shade", False):
        bits = -np.log2(np.maximum(np.asarray(probs, dtype=np.float64), 1e-12))
        scale = surprise_scale(bits)
        placeholder.html(surprise_html(generated, bits, prompt=cleaned, scale=scale, copied=copied))
        st.html(surprise_legend_html(scale))
        st.caption("The prompt is in bold. On a computer, hover over a character to see how likely the model found it.")
    elif copied.any():
        placeholder.html(copied_html(generated, copied, prompt=cleaned))
    else:
        placeholder.code(cleaned + generated, language=None, wrap_lines=True)
    if copies is not None:
        st.markdown(copy_words(copies))
    return cleaned + generated


def settings_row() -> tuple[int, int]:
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    low, high, step = LENGTH_RANGE
    length = c1.slider("Length (characters)", low, high, step=step, key="gen_length")
    seed = c2.number_input("Random seed", 0, 2**31 - 1, key="gen_seed", help=widgets.TOOLTIP["seed"])
    c3.button("New sample", key="gen_new_sample", on_click=new_seed, icon=":material/casino:")
    return int(length), int(seed)


def compare(model_id: str, gen: Generator, cleaned: str, sampling: Sampling, length: int, seed: int) -> None:
    """The fixed four temperatures and the slider's, from the same start and random numbers, each with the
    other settings; with a setting beyond temperature, the slider's temperature without it too."""
    temperatures = sorted({*SEED_TEMPERATURES, round(sampling.temperature, 2)})
    rows = [dataclasses.replace(sampling, temperature=t) for t in temperatures]
    if not sampling.plain:
        rows.append(Sampling(sampling.temperature))
    extra = "" if sampling.plain else f" ({setting_words(sampling)}), and your temperature without them"
    st.subheader(f"The same start, the same random numbers, {len(temperatures)} temperatures")
    st.caption(f"Only the temperature differs{extra}.")
    samples = gen.generate(cleaned, rows, length, seed)
    for col, sample in zip(st.columns(len(samples)), samples, strict=True):
        with col:
            mine = " (your slider)" if sample.sampling == sampling else ""
            plain = ", nothing else" if not sampling.plain and sample.sampling.plain else ""
            st.markdown(f"**Temperature {sample.temperature:g}{mine}{plain}**")
            widgets.text_block(cleaned + sample.text)
            copies = copies_in(model_id, sample.text)
            if copies is not None:
                st.caption(f"Copied from its training text: {copies.copied_share:.0%}")


def _append(ch: str) -> None:
    st.session_state["gen_prompt"] = st.session_state.get("gen_prompt", "") + ch


def next_characters(gen: Generator, prompt: str, sampling: Sampling) -> None:
    """The likeliest next characters as bars, and a button for each that writes it (step by step)."""
    st.subheader("What would come next?")
    st.caption(
        "The model's chances for the character right after your prompt, with your settings and as trained (T = 1). "
        "Press a character to add it to the prompt and write one step at a time."
    )
    p_t, p_1 = gen.next_distribution(prompt, sampling), gen.next_distribution(prompt, 1.0)
    setting = None if sampling.plain else setting_words(sampling)
    st.altair_chart(next_char_chart(gen.vocab.chars, p_t, p_1, sampling.temperature, setting=setting), width="stretch")
    order = top_next_chars(p_t, p_1)
    removed = [char_label(gen.vocab.chars[int(i)]) for i in order if p_t[i] == 0 and p_1[i] > 0]
    if setting and removed:
        st.caption(f"Your settings remove {widgets.md(', '.join(removed))}: the model may not write them next.")
    for row in range(0, len(order), 5):
        for j, (col, i) in enumerate(zip(st.columns(5), order[row : row + 5], strict=False)):
            ch = gen.vocab.chars[int(i)]
            col.button(
                f"{char_label(ch)} · {p_t[i]:.0%}",
                key=f"gen_next_{row + j}",
                on_click=_append,
                args=(ch,),
                width="stretch",
            )


def score_your_text(gen: Generator) -> None:
    """Type a sentence and see it shaded by how surprising the model finds each character."""
    st.subheader("How surprising is your text?")
    widgets.keep("gen_score_text", "")
    text = st.text_area(
        "Type or paste a sentence", key="gen_score_text", height=80, max_chars=5000, placeholder="Type here…"
    )
    widgets.remember("gen_score_text")
    if len(text) < 2:
        st.caption("The model reads your text one character at a time and shows where it was surprised.")
        return
    trace = gen.trace(text)
    bits = trace.surprise[1:]
    scale = surprise_scale(bits)
    st.html(surprise_html(trace.text[1:], bits, prompt=trace.text[0], scale=scale))
    st.html(surprise_legend_html(scale))
    st.markdown(
        f"On average **{bits.mean():.2f} bits per character**. Lower means less surprised; the model picker "
        "at the top shows what it scores on text it never trained on."
    )


def bounded_length(gen: Generator, wanted: int, texts: int) -> int:
    """The length each text gets: a big model writes less per page, so one visitor cannot hold the server."""
    allowed = max(LENGTH_RANGE[0], limits.generation_budget(gen.config, len(gen.vocab)) // texts)
    if wanted <= allowed:
        return wanted
    st.caption(
        f"This model is big, so the studio writes {allowed:,} characters per text with it here (not {wanted:,}): "
        "the computer that runs the studio is shared. The command line has no such limit."
    )
    return allowed


def setting_words(sampling: Sampling) -> str:
    """The settings beyond temperature, in words: "top-k 5, top-p 0.9, the loop guard at 8"."""
    parts = [f"top-k {sampling.top_k}"] if sampling.top_k else []
    parts += [f"top-p {sampling.top_p:g}"] if sampling.top_p else []
    parts += [f"the loop guard at {sampling.no_repeat}"] if sampling.no_repeat else []
    return ", ".join(parts)


def chosen_sampling(temperature: float) -> Sampling:
    """The settings beyond temperature as they stand (their sliders are drawn under the text, read before it)."""
    k, p, n = (st.session_state[key] for key in ("gen_top_k", "gen_top_p", "gen_no_repeat"))
    try:
        return Sampling(temperature, int(k) or None, None if p >= 1 else float(p), int(n) or None).checked()
    except (CharlstmError, TypeError, ValueError) as exc:  # a hand-edited address: say so, write without them
        st.warning(f"{widgets.md(exc)} The text below uses the temperature alone.")
        return Sampling(temperature)


def sampling_controls() -> None:
    """Top-k, top-p and the loop guard, each with what it does and what to try (off until moved)."""
    on = any(st.session_state.get(k) != DEFAULTS[k] for k in ("gen_top_k", "gen_top_p", "gen_no_repeat"))
    with st.expander("More ways to pick the next character", expanded=on, icon=":material/tune:"):
        c1, c2, c3 = st.columns(3)
        c1.slider("Top-k (0: off)", **bounds("gen_top_k"), key="gen_top_k", help=widgets.TOOLTIP["top_k"])
        c2.slider("Top-p (1: off)", **bounds("gen_top_p"), key="gen_top_p", help=widgets.TOOLTIP["top_p"])
        c3.select_slider("Loop guard (0: off)", NO_REPEAT_STEPS, key="gen_no_repeat", help=widgets.TOOLTIP["no_repeat"])
        st.caption(
            "Top-k: only the k likeliest characters. Top-p: only the likeliest that together make up p of the "
            "chance. Loop guard: never N characters in a row that the text already holds (try 8 at temperature "
            "0.2, where texts loop). They apply to the text above, the comparison and the chart below."
        )


def playground(model_id: str, gen: Generator) -> None:
    restore_settings()
    follow_model_prompt(model_id)
    prompt = st.text_area("Start of the text (the prompt)", key="gen_prompt", height=80, max_chars=PROMPT_MAX)
    low, high, step = TEMPERATURE_RANGE
    temperature = float(
        st.slider("Temperature", low, high, step=step, key="gen_temperature", help=widgets.HELP["temperature"])
    )
    sampling = chosen_sampling(temperature)
    cleaned, unknown = gen.prepare_prompt(prompt)  # once per rerun: every text below starts from it
    prompt_warning(unknown, prompt)
    show_compare = bool(st.session_state.get("gen_compare", False))
    texts = 1 + (len(SEED_TEMPERATURES) + 1) * show_compare  # the comparison adds the slider's temperature
    length = bounded_length(gen, int(st.session_state["gen_length"]), texts)
    seed = int(st.session_state["gen_seed"])
    text = write(model_id, gen, cleaned, sampling, length, seed)  # right under the slider, also on a phone
    settings_row()
    sampling_controls()
    t1, t2 = st.columns(2)
    # No help= icons on switches: a tap on the icon flips the switch (and a phone has no hover to show it).
    t1.toggle("Shade by surprise", key="gen_shade")
    t1.caption("Stronger colour: the model was more surprised there.")
    t2.toggle("Compare temperatures", key="gen_compare")
    t2.caption("The same start at 0.2, 0.5, 1.0 and 1.2, side by side.")
    save_settings()
    st.download_button(
        "Download this text",
        data=text,
        file_name=f"charlstm-{model_id.replace(':', '-')}-T{temperature:g}.txt",
        mime="text/plain",
        key="gen_download",
        on_click="ignore",
        icon=":material/download:",
    )
    if show_compare:
        compare(model_id, gen, cleaned, sampling, length, seed)
    how_it_learned(state.model_run(model_id), cleaned, temperature, seed, "gen_timelapse")
    next_characters(gen, prompt, sampling)
    score_your_text(gen)
    widgets.help_box("temperature", "bpc")


st.title("Let the model write")
if not state.usable_runs():  # a first visit: say what is happening, and the one way on
    st.markdown(
        "A neural network that learned to write **one character at a time** is writing below. Move the "
        "**temperature** slider: low is safe and repetitive, high is adventurous."
    )
    st.page_link(pages.CORPUS, label="Teach it your own text →", icon=":material/school:")
chosen = choose_model()
if chosen is not None:
    playground(*chosen)
