"""Everything a page remembers: the session token, the current corpus, model and run, and shared caches.

Streamlit forgets `st.session_state` when the browser reloads and drops widget keys when the user
changes page. So what matters is kept in plain session keys, the token and the current run id
also sit in the URL (`?s=<token>&run=<run id>`), and jobs live in one process-wide registry.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from pathlib import Path

import streamlit as st

from charlstm import store
from charlstm.config import PRESETS, TrainConfig
from charlstm.corpora import BUILTINS, load_corpus, nietzsche_is_cached
from charlstm.generate import Generator
from charlstm.jobs import JobRegistry, JobView
from charlstm.text import Corpus

from .corpus_tools import read_cached_nietzsche

TOKEN_PARAM, RUN_PARAM = "s", "run"
KEEP_CORPORA = 16
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_RUN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")  # a run folder's name, never a path


def _stop_streamlit_clearing_keras() -> None:
    """Streamlit calls `keras.backend.clear_session()` after every script run, fragment reruns included.

    That resets TensorFlow's default graph, empties the eager kernel cache and forces a full garbage
    collection, while a training job runs on another thread: measured here, a page polling once a
    second cut training speed by half or more. Training never relies on the session being cleared
    (each job builds its own model), so the clean-up is switched off for this process. (Streamlit's
    own `gc.collect(2)` after each run is switched off in .streamlit/config.toml: runner.postScriptGC.)
    """
    try:
        from streamlit.runtime.scriptrunner import script_runner
    except ImportError:  # a future Streamlit without this module: nothing to undo
        return
    if hasattr(script_runner, "_clean_problem_modules"):
        script_runner._clean_problem_modules = lambda: None


_stop_streamlit_clearing_keras()


# --- process-wide resources ------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def registry() -> JobRegistry:
    """The one job registry of this server process (its cap comes from CHARLSTM_MAX_TRAINING)."""
    return JobRegistry()


@st.cache_resource(show_spinner="Loading the built-in text…", max_entries=4)
def builtin_corpus(name: str) -> Corpus:
    """A built-in corpus, loaded once per process. A cached Nietzsche is read without importing TF."""
    if name == "nietzsche":
        data = read_cached_nietzsche()
        if data is not None:
            return Corpus(data, "nietzsche", "builtin")
    return load_corpus(builtin=name)


@st.cache_resource(show_spinner=False, max_entries=8)
def _generator(run_dir: str, tag: str, mtime: float) -> Generator:
    return store.load_generator(Path(run_dir), tag)


def generator(run_dir: Path) -> Generator:
    """A cached generator for a run's best checkpoint; a newer checkpoint makes a new one."""
    tag = store.best_tag(run_dir)
    try:
        mtime = (run_dir / f"{tag}.weights.npz").stat().st_mtime
    except OSError:
        mtime = 0.0  # load_generator raises the plain message
    return _generator(str(run_dir), tag, mtime)


# --- this session ----------------------------------------------------------------------------------
def owner() -> str:
    """This browser session's token: it owns jobs and uploads. Kept in session state and the URL."""
    token = st.session_state.get("_owner")
    if not token:
        from_url = st.query_params.get(TOKEN_PARAM, "")
        token = from_url if _TOKEN_RE.match(from_url) else secrets.token_urlsafe(16)
        st.session_state["_owner"] = token
    if st.query_params.get(TOKEN_PARAM) != token:
        st.query_params[TOKEN_PARAM] = token
    return token


def init() -> None:
    """Call once per script run (app.py): token, URL, defaults that let a new user train at once."""
    owner()
    if "run_id" not in st.session_state:  # a fresh session: maybe a reload with ?run=… in the URL
        run_id = st.query_params.get(RUN_PARAM, "")
        st.session_state["run_id"] = run_id if _RUN_RE.match(run_id) else None
    run_id = st.session_state["run_id"]
    if run_id and st.query_params.get(RUN_PARAM) != run_id:
        st.query_params[RUN_PARAM] = run_id
    elif not run_id and RUN_PARAM in st.query_params:
        del st.query_params[RUN_PARAM]
    st.session_state.setdefault("preset", "quick")
    st.session_state.setdefault("lowercase", PRESETS["quick"].config.lowercase)
    st.session_state.setdefault("model_run", None)


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
        while len(kept) > KEEP_CORPORA:  # bounded: the oldest sessions' texts are forgotten first
            kept.popitem(last=False)


def builtin_title(name: str) -> str:
    return BUILTINS[name].title if name in BUILTINS else name


def current_job() -> JobView | None:
    """This session's current job (the one in the URL), if the registry still has it."""
    return registry().get(st.session_state.get("run_id"), owner())


def set_run(run_id: str | None) -> None:
    st.session_state["run_id"] = run_id
    if run_id:
        st.query_params[RUN_PARAM] = run_id
    elif RUN_PARAM in st.query_params:
        del st.query_params[RUN_PARAM]


def hidden_runs() -> set[str]:
    """Runs other sessions are training right now: this session does not see them."""
    return registry().active_for_others(owner())


@st.cache_resource(show_spinner=False)
def _summaries() -> dict[Path, tuple[tuple, store.RunSummary]]:
    return {}


_RUN_FILES = (
    "meta.json",
    "config.json",
    "vocab.json",
    "status.json",
    "history.jsonl",
    "best.weights.npz",
    "last.weights.npz",
)


def _summary(run_dir: Path) -> store.RunSummary:
    """`store.summarize` reads (and checks) a run's weights; redo it only when one of its files changed."""
    signature = []
    for name in _RUN_FILES:
        try:
            st_ = (run_dir / name).stat()
            signature.append((st_.st_mtime_ns, st_.st_size))
        except OSError:
            signature.append(None)
    cache = _summaries()
    hit = cache.get(run_dir)
    if hit is not None and hit[0] == tuple(signature):
        return hit[1]
    summary = store.summarize(run_dir)
    cache[run_dir] = (tuple(signature), summary)
    return summary


def visible_runs() -> list[store.RunSummary]:
    """The model library as this session may see it (like `store.list_runs`, cached per run), newest first."""
    root, hidden = store.runs_root(), hidden_runs()
    if not root.is_dir():
        return []
    runs = [_summary(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in hidden]
    return sorted(runs, key=lambda r: r.created, reverse=True)


def run_dir_of(run_id: str | None) -> Path | None:
    """The folder of a run id, if it is a run in the models folder that this session may see."""
    if not run_id or not _RUN_RE.match(run_id) or run_id in hidden_runs():
        return None
    root = store.runs_root()
    path = root / run_id
    return path if path.is_dir() and store.inside(root, path) else None


def model_run() -> str | None:
    """The model the playground uses: the one picked last, else none."""
    return st.session_state.get("model_run")


def set_model(run_id: str | None) -> None:
    st.session_state["model_run"] = run_id


def preset_name() -> str:
    return st.session_state.get("preset", "quick")


def preset_base() -> TrainConfig:
    return PRESETS[preset_name()].config


# --- ready-made models, and the model the playground opens with (issue 10) ------------------------------
from charlstm import starters  # noqa: E402  (kept with the functions that use it: an appended section)
from charlstm.errors import CharlstmError  # noqa: E402


def starter_models() -> list[starters.Starter]:
    """The ready-made models shipped in assets/models (read-only; every session sees them)."""
    return starters.list_starters()


def model_folder(model_id: str) -> Path:
    """The folder of a model id: a run in the models folder, or a ready-made `starter:<name>`."""
    if starters.is_ref(model_id):
        return starters.starter_dir(model_id)
    folder = run_dir_of(model_id)
    if folder is None:
        raise CharlstmError("This model is no longer in the models folder; choose another one.")
    return folder


def playground_default(own_ids: list[str], starter_ids: list[str]) -> str | None:
    """Your model picked last, else the one you just trained, else a ready-made one you picked, else the newest.

    A model you trained wins over a ready-made one chosen before it: after training, you play with yours.
    """
    for wanted in (model_run(), st.session_state.get("run_id")):
        if wanted in own_ids:
            return wanted
    if model_run() in starter_ids:
        return model_run()
    return (own_ids or starter_ids or [None])[0]


def usable_runs() -> list[store.RunSummary]:
    """The visible runs that have a saved model to write with or look inside."""
    return [
        r
        for r in visible_runs()
        if r.readable and any((r.path / f"{t}.weights.npz").exists() for t in ("best", "last"))
    ]
