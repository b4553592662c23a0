"""Race two settings (the Train page): one setting changed, both trained on one text, judged at equal time.

The race's two runs are ordinary runs of the person's (the library makes and queues them, and they count as
two of their trainings); the race itself is only the pair of ids this browser session keeps, and the view
that puts them side by side: both held-out curves against training time, the samples of the latest epoch
both reached (the same prompt and random numbers, as each run seeds its samples by the epoch), and the score
each had at the time both reached (`charlstm.race`).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from charlstm import race
from charlstm.config import LN2, TrainConfig
from charlstm.errors import CharlstmError
from charlstm.text import Corpus

from . import state, widgets

RACE = "race"  # the race shown: its two run ids, "id,id" in the address (a reload keeps it; only yours show)
COLOURS = ("#4c78a8", "#e45756")


def race_form(corpus: Corpus, config: TrainConfig | None) -> None:
    """Change one setting of the settings above and start both: a race (two of your trainings)."""
    with st.expander("Race two settings: change one, train both, see which learns faster", icon=":material/flag:"):
        if config is None or not config.seconds:
            st.caption("A race needs a time limit (Advanced settings: stop after a time limit).")
            return
        st.caption(
            "The settings above race against the same settings with one change, on the same text and for the same "
            "time. If this computer trains one model at a time they take turns; the comparison is at equal "
            "training time either way. A race counts as two of your trainings (each person may have one training "
            "and two waiting)."
        )
        c1, c2 = st.columns(2)
        field = c1.selectbox(
            "Change",
            list(race.CHANGES),
            key="race_field",
            format_func=lambda f: f"{race.CHANGES[f][0]} (now {getattr(config, f)})",
            help="Units: the size of the model's memory. Layers: networks stacked on each other. Cell type: LSTM "
            "or the simpler GRU. Learning rate: how big each learning step is. Sequence length: how many "
            "characters it reads in one piece.",
        )
        options = [v for v in race.CHANGES[field][1] if v != getattr(config, field)]
        value = c2.selectbox("to", options, key="race_value")
        if st.button("Start the race", key="race_start", icon=":material/flag:"):
            start(corpus, config, field, value)


def start(corpus: Corpus, config: TrainConfig, field: str, value) -> None:
    try:
        other = race.challenger(config, field, value)
        label = race.CHANGES[field][0]
        names = (f"Race: {label} {getattr(config, field)}", f"Race: {label} {value}")
        runs = state.library().start_race(corpus, (config, other), names)
    except (CharlstmError, ValueError) as exc:
        st.error(widgets.md(exc))
        return
    st.query_params[RACE] = ",".join(r.id for r in runs)
    st.rerun()


def race_chart(histories: list, names: list[str]) -> alt.Chart:
    """Both held-out curves against the seconds each had trained."""
    rows = [
        {"seconds": h.seconds, "bits per character": (h.val_loss or h.loss) / LN2, "contender": name}
        for history, name in zip(histories, names, strict=True)
        for h in history
    ]
    df = pd.DataFrame(rows, columns=["seconds", "bits per character", "contender"])
    return (
        alt.Chart(df, title="Held-out loss (lower is better)")
        .mark_line(point=True)
        .encode(
            x=alt.X("seconds:Q", title="seconds of training"),
            y=alt.Y("bits per character:Q", scale=alt.Scale(zero=False), axis=alt.Axis(format=".2f")),
            color=alt.Color(
                "contender:N",
                scale=alt.Scale(domain=names, range=list(COLOURS)),
                legend=alt.Legend(orient="top", direction="vertical", title=None, labelLimit=0),  # fits a phone
            ),
        )
        .properties(height=260)
    )


def shared_time_limit(runs: list, statuses: list) -> float | None:
    """The time limit both contenders ran out (None while either trains, or when one ended another way)."""
    if not all(s.state == "time" for s in statuses):
        return None  # checked first: the view is redrawn every second while they train
    limits = {r.config().seconds for r in runs}
    return limits.pop() if len(limits) == 1 else None


def race_view() -> None:
    """The race this session started: live, then its result. Redrawn every second while either trains."""
    ids = st.query_params.get(RACE, "").split(",")
    runs = [state.run_of(i) for i in ids] if len(ids) == 2 else []
    if not runs or any(r is None for r in runs):  # none, or not the person's: nothing is said about them
        st.query_params.pop(RACE, None)
        return
    st.subheader("Your race")

    @st.fragment(run_every=1.0 if any(r.status().active for r in runs) else None)
    def live() -> None:
        statuses = [r.status() for r in runs]
        names = [r.name for r in runs]
        histories = [r.history() for r in runs]
        for name, status, history in zip(names, statuses, histories, strict=True):
            st.caption(f"{widgets.md(name)}: {status.state}, {len(history)} epoch(s)")
        if any(histories):
            st.altair_chart(race_chart(histories, names), width="stretch")
        result = race.race_result(*histories, time_limit=shared_time_limit(runs, statuses))
        if result is None and any(histories) and not any(s.active for s in statuses):
            st.markdown(
                "No fair comparison: one of them finished its first epoch only after the other had stopped. "
                "Race them again with a longer time limit."
            )
        if result is not None:
            scores = " · ".join(f"{widgets.md(n)}: {b:.3f} bits/char" for n, b in zip(names, result.bpc, strict=True))
            ahead = "ahead" if any(s.active for s in statuses) else "the winner"
            verdict = "a tie" if result.winner is None else f"**{widgets.md(names[result.winner])}** is {ahead}"
            st.markdown(f"After {result.seconds:.0f} s of training each: {scores}. {verdict}.")
        samples = [{s.epoch: s for s in r.samples()} for r in runs]
        common = sorted(set(samples[0]) & set(samples[1]))
        if common:
            epoch = common[-1]
            st.markdown(f"**What each writes after epoch {epoch}** (the same prompt and random numbers)")
            for col, by_epoch, name in zip(st.columns(2), samples, names, strict=True):
                with col:
                    st.markdown(f"*{widgets.md(name)}*")
                    entry = by_epoch[epoch]
                    widgets.text_block(entry.prompt + dict(entry.samples).get(0.5, entry.samples[0][1]))

    live()
    if st.button("Close the race view", key="race_close"):
        st.query_params.pop(RACE, None)
        st.rerun()
