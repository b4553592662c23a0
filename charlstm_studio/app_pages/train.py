"""Train page: pick a preset (or tune it), start, watch the model learn, stop.

Widget keys (for tests and the browser suite):
    train_preset       radio         quick / classic / quality
    train_layers       number_input  LSTM layers (1-3)          } in the "Advanced settings"
    train_units        number_input  units per layer            } expander
    train_seq_len      number_input  sequence length
    train_mode         selectbox     sequence / window
    train_stride       number_input  step between windows (window mode only)
    train_batch        number_input  batch size
    train_lr           number_input  learning rate
    train_optimizer    selectbox     adam / rmsprop / sgd
    train_schedule     selectbox     budget / constant (the learning rate over the training)
    train_budget       radio         time / epochs
    train_minutes      number_input  time limit in minutes (time budget)
    train_epochs       number_input  number of epochs (epochs budget)
    train_val          slider        share of the text held out for validation
    train_seed         number_input  random seed
    train_name         text_input    model name (optional)
    train_start        button        start training (or join the queue)
    train_stop         button        stop training / leave the queue
    train_play         button        open the finished model in the playground
    train_new          button        forget the shown run and set up a new one
    train_timelapse    select_slider how it learned: the moment of its training that writes (a finished run)
    race_field         selectbox     a race: the setting to change              } in "Race two settings"
    race_value         selectbox     its other value                            }
    race_start         button        start both trainings                       }
    race_close         button        close the race view
    train_show_other   button        show this session's other running job (instead of starting a second)

The run shown is the one in the URL (?run=<run id>), so a reload reattaches to a running job. Everything
shown is read from the run folder, which the training worker writes.
"""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from charlstm import sizing
from charlstm.config import LR_SCHEDULES, OPTIMIZERS, PRESETS, RANGES, TrainConfig, preset_config
from charlstm.copies import MIN_COPY
from charlstm.errors import CharlstmError
from charlstm.estimate import Estimate, Speed, estimate
from charlstm.generate import opening_words
from charlstm.jobs import DEFAULT_MAX_SECONDS, OWNER_MAX_WAITING, STUDIO_MAX_EPOCHS
from charlstm.live import TRAINING
from charlstm.run import ACTIVE_STATES, EpochRecord, EpochSamples, Progress, Run, Status
from charlstm.text import PASTED, Corpus, check_trainable, prepare_text, short_text_advice
from charlstm.weights import parameter_count
from charlstm_studio.ui import pages, state, widgets
from charlstm_studio.ui.charts import batch_loss_chart, copied_chart, epoch_chart
from charlstm_studio.ui.copies import copied_shares
from charlstm_studio.ui.race import race_form, race_view
from charlstm_studio.ui.timelapse import how_it_learned

MEMORISED_SHARE = 0.5  # samples copied this much from the text: say that the model is memorising it
TIMELAPSE_TEMPERATURE = 0.5  # careful enough that words show as soon as the model knows them
TIME_BUDGET_EPOCHS = 10_000  # with a time limit, epochs only bound the run; the clock ends it
MODES = {
    "sequence": "Every next character (fast)",
    "window": "One per window (2017 example)",
}
BUDGETS = {"time": "a time limit", "epochs": "a number of epochs"}
SCHEDULES = {"budget": "Slows down as the end nears", "constant": "Stays the same (the 2017 example)"}
LONG_TRAINING_SECONDS = 3600.0  # an estimate above this gets a warning before Start (Classic on Nietzsche: hours)
LIVE_POLL_SECONDS = 1.0  # how often a training's page reads its run folder
FIRST_POINT_POLL_SECONDS = 0.3  # ... until the first loss is there


def apply_preset() -> None:
    """A new preset resets the advanced settings (and the lowercase choice) to its own values."""
    cfg = PRESETS[st.session_state["train_preset"]].config
    st.session_state["preset"] = cfg.preset
    st.session_state["lowercase"] = cfg.lowercase
    st.session_state.pop("corpus_lowercase", None)
    for key, value in preset_values(cfg).items():
        st.session_state[key] = value
        st.session_state.pop(f"_keep_{key}", None)


@dataclass(frozen=True)
class ChoiceSetting:
    """An advanced setting that is a choice or a share, not a number box: its widget holds the config's value."""

    key: str
    field: str  # the TrainConfig field it sets

    def from_config(self, cfg: TrainConfig) -> Any:
        return getattr(cfg, self.field)

    def value(self) -> Any:
        return st.session_state[self.key]

    def shown(self, _state: Any) -> bool:
        return True


@dataclass(frozen=True)
class NumberSetting:
    """One number box of the advanced settings; its bounds are the config's own (`config.RANGES`).

    It converts both ways: `from_config` fills the box from a preset, `value` gives the config back.
    """

    key: str
    field: str  # the TrainConfig field it sets
    label: str
    column: int
    step: float | None = None
    help: str | None = None
    fmt: str | None = None
    per_unit: float = 1.0  # config value = widget value x per_unit (minutes -> seconds)
    high: float | None = None  # a lower ceiling than the config's, for the studio
    shown: Callable[[Any], bool] = lambda s: True
    used: Callable[[TrainConfig], bool] = lambda cfg: True  # does a config use it (a time limit, a window step)?
    unused: float = 0  # the box's value for a config that does not use it (ready if the person turns it on)

    def from_config(self, cfg: TrainConfig) -> float | int:
        if not self.used(cfg):
            return self.unused
        value = getattr(cfg, self.field) / self.per_unit
        return int(value) if self.whole else float(value)

    @property
    def whole(self) -> bool:
        """Whole numbers (layers, units...) or not (learning rate, minutes)."""
        low = RANGES[self.field][0]
        return isinstance(low, int) and self.per_unit == 1.0

    def value(self) -> float | int:
        """The config value the widget holds."""
        raw = st.session_state[self.key] * self.per_unit
        return int(raw) if self.whole else float(raw)

    def draw(self, columns: list) -> None:
        if not self.shown(st.session_state):
            return
        low, high = RANGES[self.field]
        high = min(high, self.high) if self.high is not None else high
        low, high = (int(low), int(high)) if self.whole else (low / self.per_unit, high / self.per_unit)
        columns[self.column].number_input(
            self.label, low, high, step=self.step, format=self.fmt, key=self.key, help=self.help
        )


NUMBERS = (
    NumberSetting(
        "train_layers", "layers", "Layers", 0, 1, "LSTM layers, each reading the one below: more learn more, slower."
    ),
    NumberSetting(
        "train_units",
        "units",
        "Units per layer",
        1,
        32,
        "The model's memory size. More units: better writing, slower training.",
    ),
    NumberSetting(
        "train_seq_len", "seq_len", "Sequence length", 2, 10, "How many characters the model reads in one piece."
    ),
    NumberSetting(
        "train_stride",
        "stride",
        "Step between windows",
        1,
        None,
        "Characters between the starts of two training windows (the 2017 example used 3).",
        shown=lambda s: s["train_mode"] == "window",
        used=lambda cfg: cfg.mode == "window",
        unused=3,
    ),
    NumberSetting(
        "train_batch",
        "batch_size",
        "Batch size",
        2,
        16,
        "How many pieces of text the model practises on together before it changes its numbers once.",
    ),
    NumberSetting(
        "train_lr",
        "learning_rate",
        "Learning rate",
        0,
        0.001,
        "How big each learning step is. Too high and training becomes unstable.",
        fmt="%g",  # 0.03, not 0.0300000
    ),
    NumberSetting(
        "train_minutes",
        "seconds",
        "Time limit (minutes)",
        1,
        1.0,
        fmt="%.1f",
        per_unit=60.0,
        high=DEFAULT_MAX_SECONDS,
        shown=lambda s: s["train_budget"] == "time",
        used=lambda cfg: bool(cfg.seconds),
        unused=10.0,
    ),
    NumberSetting(
        "train_epochs",
        "epochs",
        "Epochs",
        1,
        1,
        widgets.TOOLTIP["epoch"],
        high=STUDIO_MAX_EPOCHS,
        shown=lambda s: s["train_budget"] == "epochs",
        used=lambda cfg: not cfg.seconds,
        unused=20,
    ),
    NumberSetting(
        "train_seed", "seed", "Random seed", 2, None, "The same seed and settings train the same model again."
    ),
)


CHOICES = (
    ChoiceSetting("train_mode", "mode"),
    ChoiceSetting("train_optimizer", "optimizer"),
    ChoiceSetting("train_schedule", "lr_schedule"),
    ChoiceSetting("train_val", "val_fraction"),
)
SETTINGS: tuple[ChoiceSetting | NumberSetting, ...] = (*CHOICES, *NUMBERS)  # each converts both ways
BUDGET = "train_budget"  # time or epochs: which of the two boxes ends the training
ADVANCED_KEYS = (BUDGET, *(setting.key for setting in SETTINGS))


def preset_values(cfg: TrainConfig) -> dict:
    """What every advanced setting's widget shows for a preset."""
    return {BUDGET: "time" if cfg.seconds else "epochs", **{s.key: s.from_config(cfg) for s in SETTINGS}}


def preset_label(name: str) -> str:
    """A preset with what it costs, where the choice is made: "Quick · 2.5 min", "Classic · 60 epochs, about
    1 h 10 min here" (an epoch budget's time depends on the text and the machine: an outsider saw none)."""
    config = PRESETS[name].config
    if config.seconds:
        return f"{name.capitalize()} · {config.seconds / 60:g} min"
    planned = sizing.fitted(config, len(corpus.text))
    took = estimate(planned, len(corpus.text), speed_of(planned)).seconds
    return f"{name.capitalize()} · {config.epochs} epochs, about {widgets.duration(took)} here"


def preset_choice() -> str:
    widgets.keep("train_preset", state.preset_name())
    name = st.radio(
        "Preset",
        list(PRESETS),
        key="train_preset",
        horizontal=True,
        on_change=apply_preset,
        format_func=preset_label,
        help=widgets.TOOLTIP["epoch"],
    )
    st.session_state["preset"] = name
    st.caption(PRESETS[name].description)
    for key, value in preset_values(PRESETS[name].config).items():
        widgets.keep(key, value)
    return name


def advanced_settings() -> None:
    """The number boxes (from the table above) and the four choices that are not numbers."""
    with st.expander("Advanced settings", icon=":material/tune:"):
        columns = st.columns(3)
        columns[0].selectbox(
            "Training mode",
            list(MODES),
            key="train_mode",
            format_func=MODES.get,
            help="How the model practises: guess every next character of each piece of text (fast), or only the "
            "character after each window, as the 2017 example did (slow).",
        )
        columns[1].selectbox(
            "Optimizer",
            OPTIMIZERS,
            key="train_optimizer",
            help="The rule that turns each batch's mistakes into changes of the model's numbers. adam and rmsprop "
            "adjust the step for each number; sgd takes plain steps.",
        )
        columns[1].selectbox(
            "Learning rate over time",
            LR_SCHEDULES,
            key="train_schedule",
            format_func=SCHEDULES.get,
            help="Big steps first, then smaller and smaller ones until the time or the epochs run out: "
            "it ends lower than a rate that stays the same.",
        )
        low, high = RANGES["val_fraction"]
        columns[2].slider(
            "Held-out share",
            low,
            high,
            step=0.05,
            key="train_val",
            help="The end of the text is kept aside to check the model on text it never trained on.",
        )
        columns[0].radio("Stop after", list(BUDGETS), key=BUDGET, format_func=BUDGETS.get)
        for setting in NUMBERS:
            setting.draw(columns)
    widgets.remember("train_preset", *ADVANCED_KEYS)


def chosen_overrides() -> dict:
    """The TrainConfig changes the widgets ask for."""
    s = st.session_state
    overrides: dict = {setting.field: setting.value() for setting in SETTINGS if setting.shown(s)}
    overrides["lowercase"] = bool(s["lowercase"])
    if s["train_mode"] != "window":
        overrides["stride"] = overrides["seq_len"]
    if s[BUDGET] == "time":
        overrides["epochs"] = TIME_BUDGET_EPOCHS
    else:
        overrides["seconds"] = None
    return overrides


def settings_form() -> TrainConfig | None:
    """The preset, the advanced settings, and the TrainConfig they make (None, with a message, if invalid)."""
    name = preset_choice()
    advanced_settings()
    try:
        config = preset_config(name, **chosen_overrides())
    except CharlstmError as exc:
        st.error(widgets.md(exc))
        return None
    st.session_state["train_config"] = config
    return config


def budget_words(cfg: TrainConfig) -> str:
    if cfg.seconds:
        return f"for {widgets.duration(cfg.seconds)}"
    return f"for {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}"


def progress_line(progress: Progress, timed: bool) -> str:
    epoch = f"Epoch {progress.epoch}" if timed else f"Epoch {progress.epoch} of {progress.epochs}"
    parts = [epoch, f"step {progress.step} of {progress.steps_per_epoch}"]
    if progress.chars_per_sec:
        parts.append(f"{progress.chars_per_sec:,.0f} characters/s")
    if progress.eta_seconds is not None:
        parts.append(f"about {widgets.duration(progress.eta_seconds)} left")
    return " · ".join(parts)


def draw_waiting(run: Run) -> None:
    place = state.library().place(run.id)
    if place.training_now == 0 and place.position == 1:
        st.info("Getting the trainer ready; training starts in a few seconds.", icon=":material/hourglass_top:")
        return
    st.info(
        f"All trainers are busy ({place.training_now} training now). You are number {place.position} in the "
        "queue; your settings are kept and training starts by itself. You can leave this page open or "
        "come back later.",
        icon=":material/hourglass_top:",
    )


def draw_progress(progress: Progress, timed: bool) -> None:
    if progress.state == "preparing":
        st.progress(0.0, text="Preparing the data and building the model…")
    else:
        st.progress(progress.fraction, text=progress_line(progress, timed))
        if progress.state == "stopping" or progress.message != TRAINING:
            st.caption(widgets.md(progress.message))


def draw_outcome(status: Status) -> None:
    text = widgets.md(status.message or "This run has finished.")
    if status.state in ("completed", "time", "user"):
        st.success(text, icon=":material/check_circle:")
    elif status.state == "diverged":
        st.warning(text)
    elif status.state == "interrupted":
        st.warning(text, icon=":material/power_off:")
    else:
        st.error(text)


def draw_charts(batch_losses, history, shares: list[tuple[int, float]]) -> None:
    """The loss per batch and per epoch; under them, how much of each epoch's samples it copies."""
    left, right = st.columns(2)
    with left:
        if batch_losses:
            st.altair_chart(batch_loss_chart(batch_losses), width="stretch")
        else:
            st.caption("The loss at each training step appears here as soon as training starts.")
    with right:
        if history:
            st.altair_chart(epoch_chart(history), width="stretch")
        else:
            st.caption("After the first epoch, its loss on training and held-out text appears here.")
    if shares and shares[-1][1] >= MEMORISED_SHARE:
        st.warning(
            f"Its latest samples are {shares[-1][1]:.0%} copied word for word from its training text: it is "
            "memorising the text rather than learning to write. The model kept, which Generate uses, is the one "
            "that did best on text it never trained on, usually from before that. A longer text helps most.",
            icon=":material/content_copy:",
        )
    if shares:
        st.altair_chart(copied_chart(shares), width="stretch")
        st.caption(
            "The share of each epoch's samples found word for word in its training text (stretches of "
            f"{MIN_COPY} characters or more). When it climbs while the held-out loss stops falling, the model is "
            "memorising its text instead of learning to write."
        )
    widgets.help_box("loss", "bpc", "epoch", "step")


def draw_samples(samples: list[EpochSamples], shares: dict[int, float], keep: int = 15) -> None:
    if not samples:
        return
    newest = samples[-1]
    st.subheader(f"What the model writes after epoch {newest.epoch}")

    def one(entry: EpochSamples) -> None:
        copied = f" Together, {shares[entry.epoch]:.0%} of them is copied from it." if entry.epoch in shares else ""
        st.caption(f"Each text continues the same prompt, taken from the training text:{copied}")
        widgets.text_block(entry.prompt)
        cols = st.columns(len(entry.samples))
        for col, (temperature, text) in zip(cols, entry.samples, strict=True):
            with col:
                st.markdown(f"**Temperature {temperature:g}**")
                widgets.text_block(text)

    one(newest)
    for entry in list(reversed(samples[:-1]))[:keep]:
        with st.expander(f"Epoch {entry.epoch}"):
            one(entry)
    widgets.help_box("temperature", title="What is temperature?")


def run_header(run: Run, status: Status) -> None:
    """The run's name with its buttons: Stop while it trains; Play and New run once it has ended."""
    head, play, new = st.columns([5, 2, 2], vertical_alignment="center")
    head.subheader(widgets.md(run.name))
    if status.active:
        label = "Leave the queue" if status.state == "queued" else "Stop"
        if new.button(label, key="train_stop", icon=":material/stop_circle:", width="stretch"):
            if state.library().stop(run.id) == "left":
                st.toast("You left the queue; nothing was trained.")
                if not run.path.exists():
                    state.set_shown_run(None)
            st.rerun()
        return
    if run.has_model and state.playground_model() is None:
        state.set_playground_model(run.id)  # the playground and the sidebar pick up the new model
    if run.has_model and play.button("Play with this model →", key="train_play", type="primary", width="stretch"):
        state.set_playground_model(run.id)
        st.switch_page(pages.GENERATE)
    if new.button("Set up a new run", key="train_new", width="stretch"):
        state.set_shown_run(None)
        st.rerun()


def draw_run(run: Run, was_state: str) -> None:
    """Redrawn every second while the run waits or trains; a full rerun when its state changes (new buttons).

    Until the first loss arrives the page looks twice as often, so the first point shows soon after Start.
    """
    was_active = was_state in ACTIVE_STATES
    timed = bool(run.config().seconds)
    first_wait = was_active and not run.batch_losses()
    every = (FIRST_POINT_POLL_SECONDS if first_wait else LIVE_POLL_SECONDS) if was_active else None

    @st.fragment(run_every=every)
    def live() -> None:
        status = run.status()
        losses = run.batch_losses()
        if was_active and (status.state != was_state or (first_wait and losses)):
            st.rerun()
        if status.state == "queued":
            draw_waiting(run)
            return
        progress = run.progress()
        if status.state == "running":
            draw_progress(progress, timed)
        else:
            draw_outcome(status)
        for notice in progress.notices:
            st.warning(widgets.md(notice))
        samples = run.samples()
        shares = copied_shares(run, samples)
        draw_charts(losses, run.history(), shares)
        draw_samples(samples, dict(shares))

    live()
    if not was_active:  # a finished run: its whole story, from noise to words
        samples = run.samples()
        how_it_learned(run, samples[-1].prompt if samples else "\n", TIMELAPSE_TEMPERATURE, 1, key="train_timelapse")


def text_facts(corpus: Corpus, lowercase: bool, min_chars: int) -> tuple[int, str | None]:
    """How many different characters the model will learn, and why the text cannot be trained on (or None).

    Preparing a long text takes a moment, so this is worked out once per text, case setting and minimum.
    """
    key = (lowercase, min_chars)
    cached = st.session_state.get("_text_facts")
    if not cached or cached[0] is not corpus or cached[1] != key:
        text = prepare_text(corpus.text, lowercase)
        try:
            check_trainable(text, min_chars)
            problem = None
        except CharlstmError as exc:
            problem = f"{exc} Start is off until then."
        cached = (corpus, key, (len(set(text)), problem))
        st.session_state["_text_facts"] = cached
    return cached[2]


def trained_words(cfg: TrainConfig, history: list[EpochRecord], seconds: float, brought: int = 0) -> str:
    """How long the model trained, all its trainings added up: a continued model trained longer than its
    first settings said. `seconds` is the run's own total (0 for a run from before it was kept); `brought`
    epochs were trained before it came here (a copy or an import), in a time not known here."""
    if not history:
        return f"to train {budget_words(cfg)}"
    epochs = f"{len(history)} epoch{'s' if len(history) != 1 else ''}"
    here = len(history) - brought
    if brought and here <= 0:
        return f"trained {epochs} before it came here"
    if brought:
        took = f" in {widgets.duration(seconds)}" if seconds else ""
        return f"trained {epochs}: {brought} before it came here, {here} here{took}"
    return f"trained {epochs} in {widgets.duration(seconds)}" if seconds else f"trained {epochs}"


def settings_words(cfg: TrainConfig, history: list[EpochRecord], seconds: float, brought: int = 0) -> str:
    """The run's settings in a line a newcomer can read: what each does, with the Advanced settings' name."""
    guesses = "each next one" if cfg.mode == "sequence" else f"the one after them, every {cfg.stride} characters"
    cells = f"{cfg.units} units of memory" + (f" in each of {cfg.layers} layers" if cfg.layers > 1 else "")
    falling = ", falling to near zero by the end" if cfg.lr_schedule == "budget" else ""
    return (
        f"{cfg.preset.capitalize()} preset · {cells} · reads {cfg.seq_len} characters at a time and guesses "
        f"{guesses} · learns from {cfg.batch_size} pieces at a time · learning rate {cfg.learning_rate:g}{falling} "
        f"({cfg.optimizer}) · {cfg.val_fraction:.0%} of the text kept aside to check it · {dropout_words(cfg)}"
        f"random seed {cfg.seed} · {trained_words(cfg, history, seconds, brought)}"
        + (" · lowercased" if cfg.lowercase else "")
    )


def dropout_words(cfg: TrainConfig) -> str:
    """The dropout a run trains with (chosen for its text when it was planned: sizing.py), or nothing."""
    return (
        f"dropout {cfg.dropout:.0%} (it forgets at random while learning, so it memorises less) · "
        if cfg.dropout
        else ""
    )


def text_words(text: Corpus) -> str:
    """The text Start trains on: a pasted one with its first words, so that after a refused paste nobody takes the
    text still in use for the one they just pasted (both are "pasted text")."""
    title = widgets.corpus_title(text.name)
    opening = opening_words(text.text).strip() if text.source == PASTED else ""
    shown = f"{title} (“{opening}…”)" if opening else title
    return f"**Text:** {widgets.md(shown)} · {len(text.text):,} characters"


def new_run_form(shown_run: bool) -> None:
    """Settings, a name and the Start button (or a pointer to this session's other running job)."""
    if shown_run:
        st.subheader("Train a new model")
    config = settings_form()
    st.markdown(text_words(corpus))
    advice = short_text_advice(len(corpus.text))
    if advice:
        st.info(advice, icon=":material/short_text:")
    problem = None
    if config is not None:
        vocab_size, problem = text_facts(corpus, config.lowercase, config.min_corpus_chars())
        planned = sizing.fitted(config, len(corpus.text))  # what Start will train: the studio's choices made
        st.caption(
            f"A {planned.layers}-layer model with {planned.units} units per layer "
            f"({parameter_count(planned, vocab_size):,} numbers to learn), trained {budget_words(planned)}."
        )
        guess = estimate(planned, len(corpus.text), speed_of(planned))
        st.caption(time_words(guess))
        long_training_warning(guess)
        chosen = sizing.why(config, len(corpus.text))
        if chosen:
            st.caption(chosen)
        if problem:
            st.warning(widgets.md(problem), icon=":material/block:")
    st.text_input("Model name (optional)", key="train_name", max_chars=80, placeholder="e.g. My first model")
    mine = state.my_active_runs()
    if mine:
        st.info(
            f"You already have a training going: {widgets.md(mine[0][0].name)}. A new one waits until it ends "
            f"(you can have one training and {OWNER_MAX_WAITING} waiting)."
        )
        if st.button("Show it", key="train_show_other"):
            state.set_shown_run(mine[0][0].id)
            st.rerun()
    if st.button(
        "Start training",
        key="train_start",
        type="primary",
        disabled=config is None or problem is not None,
        icon=":material/play_arrow:",
    ):
        start_training(config)


_speeds: dict[TrainConfig, Speed | None] = {}  # this rerun's: the page runs anew each time, and so does this


def speed_of(config: TrainConfig) -> Speed | None:
    """This machine's speed for `config`, read from the run folders once per rerun (a preset's label and the
    estimate under the settings both ask)."""
    if config not in _speeds:
        _speeds[config] = state.library().speed(config)
    return _speeds[config]


def long_training_warning(guess: Estimate) -> None:
    """Hours of training are a choice to make knowingly: Classic's 60 epochs of Nietzsche take most of a day."""
    seconds = guess.seconds
    if seconds > LONG_TRAINING_SECONDS:
        st.warning(
            f"This training would take about {widgets.duration(seconds)} on this computer. It goes on if you close "
            "the page, and you can write with its best model so far after every epoch. To see a model learn in "
            "minutes, pick Quick, or set a time limit under Advanced settings.",
            icon=":material/schedule:",
        )


def time_words(guess: Estimate) -> str:
    """One estimate, in the words a new user needs: how long in all, and how long until words appear."""
    if guess.same_shape:
        where = f"measured here: {guess.chars_per_sec:,.0f} characters/s"
    elif guess.measured:
        where = f"about {guess.chars_per_sec:,.0f} characters/s, from this computer's speed on other models"
    else:
        where = "a typical laptop's speed until your first training here has measured this computer"
    words = f"about {widgets.duration(guess.readable_seconds)} to readable words"
    if guess.readable_seconds > guess.seconds:
        words = "it may end before its words look like words: give it more time"
    sooner = " (a text this short is usually learnt sooner: it finishes once it stops improving)"
    duration = widgets.duration(guess.seconds)
    total = f"at most {duration}{sooner}" if guess.may_end_sooner else f"about {duration} in all"
    return f"On this computer: {total}; {words} ({where})."


def start_training(config: TrainConfig) -> None:
    """Write the run folder, queue it on the cluster, show it (a mistake is shown in plain words instead)."""
    label = st.session_state.get("train_name", "").strip() or f"{corpus.name} ({config.preset})"
    try:
        with st.spinner("Saving the text and settings for this run…"):
            run = state.library().start_new(corpus, config, name=label)
        state.set_shown_run(run.id)
        state.set_playground_model(run.id)  # once it has a model, every page plays with it (and the sidebar)
        st.rerun()
    except CharlstmError as exc:
        st.error(widgets.md(exc))


# --- the page ---------------------------------------------------------------------------------------
st.title("Train a model")
corpus = state.corpus()
run_id = st.session_state.get("run_id")
shown = state.run_of(run_id)
status = shown.status() if shown is not None else None
busy = status is not None and status.active

# The run in the address comes first: it is what a returning user wants to see.
if shown is not None and status is not None:
    run_header(shown, status)
    with contextlib.suppress(CharlstmError):
        st.caption(settings_words(shown.config(), shown.history(), shown.trained_seconds(), shown.epochs_brought()))
    draw_run(shown, status.state)
elif run_id:
    st.info(
        "There is no model of yours at this address: it may have been deleted, or the link came from another "
        "browser (what a person trains is theirs alone). Start a new one below."
    )

race_view()
if not busy:
    if run_id:
        st.divider()
    new_run_form(shown_run=bool(run_id))
    race_form(corpus, st.session_state.get("train_config"))
    if not run_id:
        st.info("Press **Start training** to begin. The line above says how long it takes on this computer.")
