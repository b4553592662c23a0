"""The command line: train, resume, generate, score, info, export, import, and the studio.

    python -m charlstm train notes.txt --preset quick --seconds 120
    python -m charlstm generate RUN_DIR --prompt "the " -t 0.2 0.5 1.0 1.2
    python -m charlstm generate RUN_DIR -t 0.8 --top-p 0.9 --no-repeat 8
    charlstm studio --port 8501

Every mistake a user can make ends with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .config import LN2, MAX_SEED, PRESETS, SEED_TEMPERATURES, TrainConfig, preset_config
from .corpora import BUILTINS
from .distribute import STRATEGIES
from .errors import CharlstmError, ConfigError
from .sampling import MAX_NO_REPEAT

EXIT_USER_ERROR = 2


EXIT_ABANDONED = 130  # the shell's status for a program ended by Ctrl+C


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage dump
        command = " ".join(self.prog.split()[1:])  # "charlstm train" -> "train"; the top level has none
        hint = " ".join(["python -m charlstm", command, "-h"]).replace("  ", " ")
        self.exit(EXIT_USER_ERROR, f"charlstm: error: {message} (see: {hint})\n")


def _seed(raw: str) -> int:
    """--seed: a whole number from 0 to MAX_SEED (NumPy refuses negative seeds with a traceback)."""
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to {MAX_SEED:,} (got {raw!r})")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="charlstm", description="Character-level LSTMs: train, generate, score, and the studio.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a new model on text files or a built-in corpus")
    _corpus_args(train, "one or more UTF-8 (or cp1252/UTF-16) text files")
    train.add_argument("--preset", default="quick", choices=list(PRESETS), help="quick (default), classic, quality")
    _budget_args(train)
    train.add_argument("--max-chars", type=int, help="use only the first N characters of the corpus")
    train.add_argument("--out", type=Path, help="the run folder to create (default: a new one in the models folder)")
    train.add_argument("--name", help="a display name for the model library")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change any training setting, e.g. --set units=512 --set learning_rate=0.002",
    )
    train.add_argument("--json", action="store_true", help="end with one JSON line of results")

    resume = sub.add_parser("resume", help="continue training a run from its last checkpoint")
    resume.add_argument("run_dir", type=Path)
    _corpus_args(resume, "text to continue on (default: the run's own text; an imported model needs one)")
    _budget_args(resume)
    resume.add_argument("--json", action="store_true")

    gen = sub.add_parser("generate", help="write text with a trained model")
    gen.add_argument("run_dir", type=Path)
    gen.add_argument("--prompt", default="", help="text to start from (default: a line break)")
    gen.add_argument("-t", "--temperature", type=float, nargs="+", default=list(SEED_TEMPERATURES))
    gen.add_argument("-n", "--length", type=int, default=400)
    gen.add_argument("--seed", type=_seed, help="the same seed writes the same text (0 or more)")
    gen.add_argument("--top-k", type=int, help="keep only the k likeliest characters (1 or more)")
    gen.add_argument(
        "--top-p",
        type=float,
        help="keep only the likeliest characters that together make up this share of the probability (above 0, at "
        "most 1; 0.9 is a common choice)",
    )
    gen.add_argument(
        "--no-repeat",
        type=int,
        metavar="N",
        help=f"loop guard: never write N characters in a row that the text already holds (2 to {MAX_NO_REPEAT}; "
        "0 = off)",
    )
    gen.add_argument("--json", action="store_true")

    score = sub.add_parser("score", help="bits per character of a text under a model")
    score.add_argument("run_dir", type=Path)
    score.add_argument("file", type=Path)
    score.add_argument("--json", action="store_true")

    info = sub.add_parser("info", help="describe a run")
    info.add_argument("run_dir", type=Path)
    info.add_argument("--json", action="store_true")

    export = sub.add_parser("export", help="write a model bundle (.zip) to share")
    export.add_argument("run_dir", type=Path)
    export.add_argument("bundle", type=Path)
    export.add_argument(
        "--timelapse", action="store_true", help="also carry the training's snapshots (about ten times larger)"
    )

    share = sub.add_parser("share", help="show a model to every visitor of the studio (weights only, no text)")
    share.add_argument("run_dir", type=Path)
    share.add_argument("--title", help="the name visitors see (default: the model's name)")

    imp = sub.add_parser("import", help="check and unpack a model bundle into the models folder")
    imp.add_argument("bundle", type=Path)
    imp.add_argument("--out", type=Path, help="the run folder to create")

    studio = sub.add_parser("studio", help="start the browser studio (Streamlit) with its own settings")
    studio.add_argument("--port", type=_port, help="the port to serve on (default: 8501, or the next free one)")
    studio.add_argument(
        "--address",
        help="the address to listen on (default: 127.0.0.1, this computer only; 0.0.0.0 lets every machine in)",
    )
    return parser


def _port(raw: str) -> int:
    """--port: a TCP port number."""
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535 (got {raw!r})")
    return int(raw)


def _corpus_args(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("corpus", nargs="*", help=what)
    p.add_argument("--builtin", choices=list(BUILTINS), help="a built-in corpus")


def _budget_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, help="number of epochs (passes over the text)")
    p.add_argument(
        "--seconds", type=float, help="time budget in seconds, Start to finished (checks and samples included)"
    )
    p.add_argument(
        "--strategy",
        default="default",
        choices=STRATEGIES,
        help="TensorFlow distribution: one device, all local GPUs, or machines from TF_CONFIG",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="train on a Dask cluster instead of here, e.g. tls://host:8786 with Dask's TLS variables set (see the "
        "README); the run folder must be on shared storage",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in ("generate", "score", "info", "export"):  # a ready-made model: starter:<name>
            from .starters import resolve_model

            args.run_dir = resolve_model(args.run_dir)
        return COMMANDS[args.command](args)
    except CharlstmError as exc:
        print(f"charlstm: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:  # Ctrl+C outside a training (or just as one ended): leave at once, quietly
        print("abandoned: everything saved so far is kept.", file=sys.stderr)
        return EXIT_ABANDONED
    except OSError as exc:  # the disk or the file system said no: say which file, not a traceback
        where = f" ({exc.filename})" if exc.filename else ""
        advice = "Check the path, the free disk space and the permissions."
        print(f"charlstm: error: {exc.strerror or exc}{where}. {advice}", file=sys.stderr)
        return EXIT_USER_ERROR


# --- commands --------------------------------------------------------------------------------------
def cmd_train(args) -> int:
    from .corpora import load_corpus
    from .store import new_run
    from .training import TrainingJob

    overrides = _parse_sets(args.set)
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
        overrides.setdefault("seconds", args.seconds)  # an epoch count alone means: no time limit
    if args.seconds is not None:
        overrides["seconds"] = args.seconds
    if args.max_chars is not None:
        overrides["max_chars"] = args.max_chars
    config = preset_config(args.preset, **overrides)
    _start_strategy(args.strategy)
    corpus = load_corpus(args.corpus, builtin=args.builtin)
    for warning in corpus.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.scheduler:
        run, _ = new_run(corpus, config, name=args.name, run_dir=args.out)
        print(f"training {config.preset} on {corpus.name} -> {run.path} (on {args.scheduler})", file=sys.stderr)
        return _on_cluster(run, args)
    job = TrainingJob.create(corpus, config, name=args.name, run_dir=_worker_dir(args), strategy=args.strategy)
    print(f"training {config.preset} on {corpus.name} -> {job.run_dir}", file=sys.stderr)
    return _drive(job, args.json)


def cmd_resume(args) -> int:
    from .run import Run
    from .store import save_text_for
    from .training import TrainingJob

    corpus = None
    if args.corpus or args.builtin:
        from .corpora import load_corpus

        corpus = load_corpus(args.corpus, builtin=args.builtin)
    if args.scheduler:
        run = Run(args.run_dir)
        if not run.path.is_dir():
            raise CharlstmError(f"{run.path} is not a run folder.")
        if corpus is not None:
            save_text_for(run, corpus)
        print(f"resuming {run.path} on {args.scheduler}", file=sys.stderr)
        return _on_cluster(run, args, action="continue")
    _start_strategy(args.strategy)
    job = TrainingJob.resume(
        args.run_dir, epochs=args.epochs, seconds=args.seconds, corpus=corpus, strategy=args.strategy
    )
    print(f"resuming {job.run_dir} after epoch {job.initial_epoch}", file=sys.stderr)
    return _drive(job, args.json)


def _on_cluster(run, args, action: str = "new") -> int:
    """Queue the run on a Dask cluster and print its epochs as the worker writes them."""
    from .jobs import JobQueue

    queue = JobQueue(root=run.path.parent, scheduler=args.scheduler)
    try:
        queue.submit(run, "", action=action, epochs=args.epochs, seconds=args.seconds, strategy=args.strategy)
        return _follow(run, queue, args.json)
    finally:
        queue.close()


def _follow(run, queue, as_json: bool) -> int:
    """Print a queued run's new epochs until it ends; Ctrl+C asks its worker to stop."""
    return _watch(run, stop=lambda: queue.stop(run), active=lambda: run.status().active, ending=None, as_json=as_json)


def _drive(job, as_json: bool) -> int:
    """Run the job in a thread of this process and print its epochs from its run folder, like `_follow`."""
    job.start()

    def ending() -> tuple[str, str]:  # a job whose run folder cannot be written still knows why it ended
        return (job.outcome.stop_reason, job.outcome.message) if job.outcome else ("error", "Training ended.")

    return _watch(job.run_folder, stop=job.stop, active=lambda: not job.wait(0), ending=ending, as_json=as_json)


def _watch(run, stop, active, ending, as_json: bool) -> int:
    """Print a run's new epochs and notes from its run folder (the one progress channel) until it ends.

    Ctrl+C asks it to stop after the current batch; a second Ctrl+C stops watching at once. `ending` gives
    (state, message) when the watcher knows them better than the folder's status (None: the status says)."""
    start, printed, noted, interrupted = time.monotonic(), len(run.history()), 0, False
    while True:
        try:
            finished = not active()
            history, notices = run.history(), run.progress().notices
            for rec in history[printed:]:
                print(_epoch_line(rec), flush=True)
            for note in notices[noted:]:
                print(f"note: {note}", file=sys.stderr)
            printed, noted = len(history), len(notices)
            if finished:
                break
            time.sleep(0.5)
        except KeyboardInterrupt:
            if interrupted:
                print("abandoned: the run keeps everything up to its last finished epoch.", file=sys.stderr)
                return EXIT_ABANDONED
            interrupted = True
            print("stopping after this batch (Ctrl+C again to stop watching)...", file=sys.stderr)
            stop()
    status = run.status()
    state, message = ending() if ending else (status.state, status.message)
    print(message, file=sys.stderr)
    if as_json:
        vals = [h.val_loss for h in history if h.val_loss is not None]
        result = _result(run.path, history, time.monotonic() - start, state, message, vals)
        print(json.dumps({**result, "best_loss": status.best_val_loss}))
    return 1 if state == "error" else 0


def _epoch_line(rec) -> str:
    val = f"val {rec.val_loss:.4f} nats ({rec.val_bpc:.3f} bpc)" if rec.val_loss is not None else "no validation"
    part = " (partial)" if rec.partial else ""
    return f"epoch {rec.epoch}{part}: loss {rec.loss:.4f}, {val}, {rec.seconds:.0f}s, {rec.chars_per_sec:,.0f} chars/s"


def _result(run_dir, history, seconds: float, stopped: str | None, message: str, vals: list) -> dict:
    """The --json line of train and resume."""
    return {
        "run": str(run_dir),
        "epochs": len(history),
        "seconds": round(seconds, 2),
        "val_loss": min(vals) if vals else None,
        "val_bpc": min(vals) / LN2 if vals else None,
        "best_loss": min(vals) if vals else None,
        "stopped": stopped,
        "message": message,
    }


def _start_strategy(name: str) -> None:
    """multiworker must be set up before TensorFlow runs any op (loading Nietzsche imports Keras)."""
    if name == "multiworker":
        from .distribute import make_strategy

        make_strategy(name)


def _worker_dir(args) -> Path | None:
    """Multi-worker training: only the chief writes the real run folder; other workers use scratch space."""
    if args.strategy == "multiworker":
        from .distribute import is_chief

        if not is_chief():
            import tempfile

            return Path(tempfile.mkdtemp(prefix="charlstm-worker-")) / "run"
    out: Path | None = args.out
    return out


def cmd_generate(args) -> int:
    from .generate import check_length
    from .store import load_generator

    gen = load_generator(args.run_dir)
    length, note = check_length(args.length)
    if note:
        print(f"note: {note}", file=sys.stderr)
    prompt, unknown = gen.prepare_prompt(args.prompt)
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:10])
        print(f"note: the model never saw {shown}; replaced in the prompt.", file=sys.stderr)
    options = {"top_k": args.top_k, "top_p": args.top_p, "no_repeat": args.no_repeat}
    samples = gen.generate(args.prompt, args.temperature, length, seed=args.seed, **options)
    for s in samples:
        if s.fell_back.any():
            print(
                f"note: {s.sampling.label}: the loop guard gave way {int(s.fell_back.sum()):,} times (every "
                f"character allowed would have repeated {s.sampling.no_repeat} characters already written).",
                file=sys.stderr,
            )
    if args.json:
        rows = [
            {
                "temperature": s.temperature,
                "top_k": s.sampling.top_k,
                "top_p": s.sampling.top_p,
                "no_repeat": s.sampling.no_repeat,
                "text": s.text,
            }
            for s in samples
        ]
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for s in samples:
            print(f"----- {s.sampling.label.replace('T ', 'temperature ', 1)} -----")
            print(prompt + s.text)
    return 0


def cmd_score(args) -> int:
    from .store import load_generator
    from .text import read_corpus

    gen = load_generator(args.run_dir)
    result = gen.score(read_corpus(args.file).text)
    if args.json:
        print(json.dumps({"chars": result.chars, "bpc": result.bpc, "nats": result.nats, "skipped": result.skipped}))
    else:
        print(
            f"{result.bpc:.4f} bits/char ({result.nats:.4f} nats/char) over {result.chars:,} characters"
            + (f"; {result.skipped:,} unseen characters skipped" if result.skipped else "")
        )
    return 0


def cmd_info(args) -> int:
    from .run import Run, summarize

    run = Run(args.run_dir)
    if not run.path.is_dir():
        raise CharlstmError(f"{run.path} is not a run folder.")
    summary = summarize(run)
    if not summary.readable:
        raise CharlstmError(f"{run.id} is unreadable: {summary.error}")
    config = run.config()
    info = {
        "run": str(summary.path),
        "name": summary.name,
        "corpus": summary.corpus,
        "preset": summary.preset,
        "parameters": summary.parameters,
        "epochs": summary.epochs,
        "val_loss": summary.val_loss,
        "val_bpc": summary.val_bpc,
        "state": summary.state,
        "config": config.to_dict(),
    }
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
    else:
        bpc = f"{summary.val_bpc:.3f}" if summary.val_bpc is not None else "n/a"
        print(
            f"{summary.name}\n  run: {summary.path}\n  corpus: {summary.corpus}\n  preset: {summary.preset}, "
            f"{config.layers}x{config.cell.upper()}({config.units}), {summary.parameters:,} parameters\n"
            f"  epochs: {summary.epochs}, best validation: {bpc} bits/char\n  state: {summary.state}"
        )
    return 0


def cmd_export(args) -> int:
    from .bundle import export_bundle

    path = export_bundle(args.run_dir, args.bundle, timelapse=args.timelapse)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


def cmd_share(args) -> int:
    """The operator's runs are private to this machine until shared on purpose, as a whitelisted export."""
    from .starters import PREFIX, share

    path = share(args.run_dir, args.title)
    print(f"shared {args.run_dir} as {PREFIX}{path.stem}: every visitor of the studio can write with it and copy it")
    print(f"(its text, samples and owner stay here; to stop sharing it, delete {path} and {path.with_suffix('.json')})")
    return 0


def cmd_import(args) -> int:
    from .bundle import import_bundle

    if args.out is not None and args.out.exists():
        raise CharlstmError(f"{args.out} already exists; choose a new folder.")
    root = args.out.parent if args.out else None
    run_dir = import_bundle(args.bundle, root=root, name=args.out.name if args.out else None)
    if args.out is not None and run_dir != args.out:
        run_dir = run_dir.rename(args.out)
    print(f"imported {args.bundle} -> {run_dir}")
    return 0


def studio_app() -> Path:
    """The installed studio's main script, found without importing it (the core never imports Streamlit)."""
    spec = importlib.util.find_spec("charlstm_studio")
    app = Path(spec.origin).parent / "app.py" if spec is not None and spec.origin else None
    if app is None or not app.is_file():
        raise CharlstmError("The studio is not installed (no charlstm_studio/app.py); install charlstm with pip.")
    if importlib.util.find_spec("streamlit") is None:
        raise CharlstmError("The studio needs Streamlit, which is not installed; install charlstm with pip.")
    return app


def cmd_studio(args) -> int:
    """`streamlit run` on the installed studio, from any folder.

    Its settings are the one `.streamlit/config.toml` beside the studio's app.py: Streamlit reads the
    config (and secrets) file next to the main script, on top of those in the current folder and in
    ~/.streamlit, so no flag repeats them. --port and --address are the only overrides.
    """
    command = [sys.executable, "-m", "streamlit", "run", str(studio_app())]
    if args.port is not None:
        command += ["--server.port", str(args.port)]
    if args.address:
        command += ["--server.address", args.address]
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":  # become the server: Ctrl+C and signals reach it directly, no orphan is left
        os.execv(sys.executable, command)
    return subprocess.call(command)


def _parse_sets(items: list[str]) -> dict:
    """--set key=value pairs, typed like the TrainConfig field they change."""
    fields = TrainConfig.__dataclass_fields__
    out: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields:
            raise ConfigError(f"--set needs KEY=VALUE with a known setting (got {item!r}); see the README.")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        if key == "sample_temperatures" and isinstance(value, int | float):
            value = [value]
        out[key] = tuple(value) if isinstance(value, list) else value
    return out


COMMANDS = {
    "train": cmd_train,
    "resume": cmd_resume,
    "generate": cmd_generate,
    "score": cmd_score,
    "info": cmd_info,
    "export": cmd_export,
    "share": cmd_share,
    "import": cmd_import,
    "studio": cmd_studio,
}
