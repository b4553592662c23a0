"""Everything a page remembers: the session token, the current corpus, model and run, and shared caches.

Streamlit forgets `st.session_state` when the browser reloads and drops widget keys when the user
changes page. So what matters is kept in plain session keys, the browser's key sits in a cookie, and the current
run id sits in the URL (`?run=<run id>`). Trainings run on a Dask cluster (`jobs()`), and
everything about them is read back from their run folders.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from pathlib import Path

import streamlit as st

from charlstm import starters, store
from charlstm.config import PRESETS, TrainConfig
from charlstm.corpora import BUILTINS, download_nietzsche, load_corpus, nietzsche_is_cached, read_cached_nietzsche
from charlstm.errors import CharlstmError
from charlstm.generate import OPENING_CHARS, Generator, opening_words
from charlstm.identity import KeyRing, hashed
from charlstm.jobs import JobQueue
from charlstm.library import RUN_ID_RE, Library
from charlstm.run import Run, RunSummary, Status, summarize
from charlstm.text import Corpus, decode_bytes

RUN_PARAM = "run"
ID_COOKIE = "charlstm_id"
COOKIE_SECONDS = 365 * 24 * 3600
KEEP_CORPORA = 16
KEEP_CORPORA_CHARS = 200_000_000  # two uploads at the 100 MB limit; a reload after that falls back to a built-in text


# --- process-wide resources ------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def jobs() -> JobQueue:
    """This server's connection to the training cluster, started (and its workers warmed) in the background."""
    queue = JobQueue()
    threading.Thread(target=_connect_quietly, args=(queue,), name="charlstm-cluster", daemon=True).start()
    return queue


def _connect_quietly(queue: JobQueue) -> None:
    """Start the cluster early; if it fails, Start says why (the same error is raised again there)."""
    with contextlib.suppress(CharlstmError):
        queue.client()


@st.cache_resource(show_spinner="Loading the built-in text…", max_entries=4)
def builtin_corpus(name: str) -> Corpus:
    """A built-in corpus, loaded once per process. A cached Nietzsche is read without importing TF."""
    if name == "nietzsche":  # downloaded without Keras: the studio never imports TensorFlow
        data = read_cached_nietzsche() or download_nietzsche()  # its messages name no server path
        return Corpus(decode_bytes(data, "nietzsche").text.strip("\n"), "nietzsche", "builtin")
    return load_corpus(builtin=name)


def key_ring() -> KeyRing:
    """Signs and checks browser keys with this studio's secret (made on its first start, mode 0600)."""
    return _key_ring(str(store.default_home()))


@st.cache_resource(show_spinner=False)
def _key_ring(home: str) -> KeyRing:
    return KeyRing(Path(home))


@st.cache_resource(show_spinner=False, max_entries=8)
def _generator(run_dir: str, mtime: float) -> Generator:
    return store.load_generator(Path(run_dir))


def generator(model_id: str) -> Generator:
    """A cached generator for a model's best checkpoint; a newer checkpoint makes a new one."""
    run = model_run(model_id)
    return _generator(str(run.path), run.weights_mtime())


# --- this session ----------------------------------------------------------------------------------
def owner() -> str:
    """Who this browser is (an owner id): its runs and uploads belong to it, and no one else sees them.

    With sign-in configured (an [auth] section in .streamlit/secrets.toml, see the README) it is the
    signed-in account. Otherwise it stands for a key kept in a cookie of this browser, signed by this
    studio (a made-up key is refused and replaced): tabs and reloads share it, it is never in the
    address, and only its hash is written to disk, so no file or link gives anybody else access.
    """
    token = st.session_state.get("_owner")
    if not token:
        token = _account() or _browser_key()
        st.session_state["_owner"] = token
    return token


def _sign_in_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: the studio is for one person, as by default
        return False


def _account() -> str | None:
    """The signed-in account's key, when sign-in is configured; a visitor who is not signed in is asked to."""
    if not _sign_in_configured():
        return None
    if not st.user.is_logged_in:
        st.title("charlstm studio")
        st.write("Sign in to train your own models and see them again next time.")
        st.button("Sign in", on_click=st.login, type="primary", key="sign_in")
        st.stop()
    subject = str(st.user.get("sub") or st.user.get("email") or "")
    return hashed("user", subject)


def _browser_key() -> str:
    ring = key_ring()
    kept = st.context.cookies.get(ID_COOKIE, "")
    if ring.valid(kept):  # (a test harness without cookies hands back a mock, which is not valid)
        return ring.owner_of(kept)
    key = ring.new_key()
    st.session_state["_new_cookie"] = key
    return ring.owner_of(key)


def remember_browser() -> None:
    """Store a new browser key in a cookie (our own script and a key we signed: nothing from a user).

    Set from the page because Streamlit sets no cookies itself, so it cannot be HttpOnly
    (docs/reliability.md); SameSite=Strict keeps other sites' pages from sending it.
    """
    token = st.session_state.get("_new_cookie")
    if token and key_ring().valid(token):
        st.html(
            f"<script>document.cookie = '{ID_COOKIE}={token}; path=/; max-age={COOKIE_SECONDS}; "
            "SameSite=Strict';</script>",
            unsafe_allow_javascript=True,
        )


def signed_in() -> bool:
    return _sign_in_configured() and bool(st.user.is_logged_in)


def init() -> None:
    """Call once per script run (app.py): token, URL, defaults that let a new user train at once."""
    owner()
    if "s" in st.query_params:  # the old key in the address: no longer used, and not to be shared
        del st.query_params["s"]
    jobs()  # the first visit starts the training cluster, so the first Start does not wait for it
    if "run_id" not in st.session_state:  # a fresh session: maybe a reload with ?run=… in the URL
        run_id = st.query_params.get(RUN_PARAM, "")
        st.session_state["run_id"] = run_id if RUN_ID_RE.match(run_id) else None
    run_id = st.session_state["run_id"]
    mine = bool(run_id) and run_of(run_id) is not None  # someone else's id never stays in this browser's address
    if mine and st.query_params.get(RUN_PARAM) != run_id:
        st.query_params[RUN_PARAM] = run_id
    elif not mine and RUN_PARAM in st.query_params:
        del st.query_params[RUN_PARAM]
        st.session_state[LINK_NOT_YOURS] = True  # said once, on whichever page the link opened
    st.session_state.setdefault("preset", "quick")
    st.session_state.setdefault("lowercase", PRESETS["quick"].config.lowercase)
    st.session_state.setdefault("model_run", None)


LINK_NOT_YOURS = "_link_not_yours"
NOT_YOURS_WORDS = (
    "The model in this link is not one of yours: models stay with the browser that trained them, and a link "
    "never shows someone else's. A ready-made model is used instead; train your own on the Train page."
)


NOT_YOURS_SAID = "_not_yours_said"  # this script run said it already (a link may name someone's run and model)


def link_notice(show: bool = True) -> None:
    """Once: the link named a model this browser may not open (it was dropped from the address).

    Called at the top of every script run (app.py), so it also starts the run with nothing said yet."""
    st.session_state[NOT_YOURS_SAID] = False
    if st.session_state.pop(LINK_NOT_YOURS, False) and show:
        not_yours_notice()


def not_yours_notice() -> None:
    """Say that a link's model is not this browser's, unless this script run has said it already."""
    if not st.session_state.get(NOT_YOURS_SAID):
        st.session_state[NOT_YOURS_SAID] = True
        st.info(NOT_YOURS_WORDS, icon=":material/lock:")


def default_builtin() -> str:
    return "nietzsche" if nietzsche_is_cached() else "python-docs"


@st.cache_resource(show_spinner=False)
def _corpora() -> tuple[threading.Lock, OrderedDict[str, Corpus]]:
    """The last corpus each session token chose, so a browser reload does not lose an upload."""
    return threading.Lock(), OrderedDict()


def corpus() -> Corpus:
    """The corpus this session trains on; a built-in one until the user picks another."""
    current = st.session_state.get("corpus")
    if current is None:
        lock, kept = _corpora()
        with lock:
            current = kept.get(owner())
        if current is None:
            current = builtin_corpus(default_builtin())
        st.session_state["corpus"] = current
    return current


def set_corpus(new: Corpus) -> None:
    st.session_state["corpus"] = new
    lock, kept = _corpora()
    with lock:
        kept[owner()] = new
        kept.move_to_end(owner())
        while len(kept) > KEEP_CORPORA or sum(len(c.text) for c in kept.values()) > KEEP_CORPORA_CHARS:
            kept.popitem(last=False)  # bounded in count and size: the oldest browsers' texts are forgotten first


def builtin_title(name: str) -> str:
    return BUILTINS[name].title if name in BUILTINS else name


def set_shown_run(run_id: str | None) -> None:
    """The run the Train page shows (also kept in the URL, so a reload finds it again)."""
    st.session_state["run_id"] = run_id
    if run_id:
        st.query_params[RUN_PARAM] = run_id
    elif RUN_PARAM in st.query_params:
        del st.query_params[RUN_PARAM]


def library() -> Library:
    """This browser's models: the only way pages list, open, make, train, change and export runs."""
    return Library(owner(), jobs())


@st.cache_resource(show_spinner=False)
def _summaries() -> dict[Path, tuple[tuple, RunSummary]]:
    return {}


def _summary(run: Run) -> RunSummary:
    """`summarize` reads (and checks) a run's weights; redo it only when one of its files changed."""
    signature = run.signature()
    cache = _summaries()
    hit = cache.get(run.path)
    if hit is not None and hit[0] == signature:
        return hit[1]
    summary = summarize(run)
    cache[run.path] = (signature, summary)
    return summary


def visible_runs() -> list[RunSummary]:
    """The model library as this session may see it, newest first."""
    runs = [_summary(run) for run in library().runs()]
    return sorted(runs, key=lambda r: r.created, reverse=True)


def run_of(run_id: str | None) -> Run | None:
    """The run with this id, if it is one of this browser's."""
    return library().find(run_id)


def my_active_runs() -> list[tuple[Run, Status]]:
    """This session's runs that train or wait now, oldest first."""
    return library().active()


def playground_model() -> str | None:
    """The model the playground uses: the one picked last, else none."""
    return st.session_state.get("model_run")


def set_playground_model(run_id: str | None) -> None:
    """The model the Generate and Inside pages use: a run id, or a ready-made `starter:<name>`."""
    st.session_state["model_run"] = run_id


def preset_name() -> str:
    return st.session_state.get("preset", "quick")


def preset_base() -> TrainConfig:
    return PRESETS[preset_name()].config


# --- ready-made models, and the model the playground opens with (issue 10) ------------------------------


def starter_models() -> list[starters.Starter]:
    """The ready-made models shipped in assets/models (read-only; every session sees them)."""
    return starters.list_starters()


def model_run(model_id: str) -> Run:
    """The run of a model id: one of this browser's, or a ready-made (or shared) `starter:<name>`."""
    if starters.is_ref(model_id):
        return starters.starter_run(model_id)
    return library().open(model_id)


def suggested_prompt(model_id: str) -> str:
    """How the playground starts a model's text until the person types their own: a ready-made model's
    words, else the first words of your text ("" for a model without one: it starts a line)."""
    if starters.is_ref(model_id):
        return starters.get_starter(model_id).prompt
    opening = library().open(model_id).text_opening(OPENING_CHARS)
    return opening_words(opening) if opening else ""


def playground_default(own_ids: list[str], starter_ids: list[str]) -> str | None:
    """The model picked last, else your newest, else a ready-made one.

    Picked last: on Generate, Guess or Inside, or the training you started last (Start picks it, so that after
    training you play with yours; a ready-made model you pick after that is the one every page then opens).
    """
    picked = playground_model()
    if picked in own_ids or picked in starter_ids:
        return picked
    return (own_ids or starter_ids or [None])[0]


def model_in_use() -> str | None:
    """The model Generate, Guess and Inside open with now (the sidebar names it)."""
    return playground_default([r.path.name for r in usable_runs()], [s.ref for s in starter_models()])


def usable_runs() -> list[store.RunSummary]:
    """The visible runs that have a saved model to write with or look inside."""
    return [r for r in visible_runs() if r.readable and r.run.has_model]
