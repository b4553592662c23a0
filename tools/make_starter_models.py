"""Train the ready-made models in assets/models/ (`make starter-models`): fixed seeds, fixed step budgets.

For each starter in `charlstm.starters.SPECS` this runs the ordinary CLI (`train`, then `export`), times it,
and writes a model card beside the bundle: `<name>.md` for people and `<name>.json` for the studio.
Nietzsche is read from the shared seed corpus (CHARLSTM_SHARED_DATA, default ../shared/data) through a
private Keras cache, so nothing is downloaded and the file's checksum is still verified.

    python tools/make_starter_models.py [--only nietzsche] [--out assets/models]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from charlstm.run import Run  # noqa: E402
from charlstm.starters import SPECS, STARTERS_DIR, StarterSpec, bundle_path, card_path  # noqa: E402


def shared_nietzsche() -> Path:
    """The seed corpus beside the clone, or where CHARLSTM_SHARED_DATA says."""
    base = Path(os.environ.get("CHARLSTM_SHARED_DATA", ROOT.parent / "shared" / "data"))
    if (base / "nietzsche.txt").is_file():
        return base / "nietzsche.txt"
    sys.exit(f"make_starter_models: {base / 'nietzsche.txt'} is missing; set CHARLSTM_SHARED_DATA.")


def train_command(spec: StarterSpec, run_dir: Path) -> list[str]:
    """The exact CLI call, recorded on the card."""
    return [
        "python", "-m", "charlstm", "train", "--builtin", spec.builtin, "--preset", spec.preset,
        "--epochs", str(spec.epochs), "--set", f"steps_per_epoch={spec.steps_per_epoch}",
        "--set", f"seed={spec.seed}", "--name", spec.title, "--out", str(run_dir), "--json",
    ]  # fmt: skip


def run_cli(args: list[str], env: dict) -> str:
    """Run `python -m charlstm ...` with this interpreter; stop the script on failure."""
    proc = subprocess.run([sys.executable, *args[1:]], cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"make_starter_models: {' '.join(args[:4])} failed:\n{proc.stderr[-2000:]}")
    return proc.stdout


def make_one(spec: StarterSpec, out: Path, env: dict, work: Path) -> dict:
    """Train, export and describe one starter; returns its card."""
    run_dir = work / spec.name
    command = train_command(spec, run_dir)
    print(f"training {spec.name}: {' '.join(command)}", flush=True)
    start = time.monotonic()
    stdout = run_cli(command, env)
    seconds = time.monotonic() - start
    result = json.loads(stdout.strip().splitlines()[-1])
    run_cli(["python", "-m", "charlstm", "export", str(run_dir), str(bundle_path(spec.name, out)), "--timelapse"], env)
    run = Run(run_dir)  # run.py alone names the files of a run folder
    config, history = run.config().to_dict(), run.history()
    card = {
        "name": spec.name,
        "title": spec.title,
        "text": spec.builtin,
        "preset": spec.preset,
        "settings": config,
        "epochs": result["epochs"],
        "steps": sum(h.steps for h in history),
        "held_out_bpc": round(result["val_bpc"], 4),
        "held_out_nats": round(result["val_loss"], 4),
        "training_seconds": round(seconds, 1),
        "date": datetime.date.today().isoformat(),
        "command": " ".join(c if " " not in c else repr(c) for c in command[:-3]) + " --json",
        "made_by": "make starter-models (tools/make_starter_models.py)",
    }
    card_path(spec.name, out).write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    bundle_path(spec.name, out).with_suffix(".md").write_text(card_markdown(card), encoding="utf-8")
    print(f"  {spec.name}: {card['held_out_bpc']} bits/char held out, {seconds:.0f} s", flush=True)
    return card


def card_markdown(card: dict) -> str:
    s = card["settings"]
    return (
        f"# {card['title']}\n\n"
        f"- **Text**: the built-in `{card['text']}` corpus "
        f"(its last {s['val_fraction']:.0%} held out, never trained on)\n"
        f"- **Preset**: `{card['preset']}`: {s['layers']} x {s['cell'].upper()}({s['units']}), "
        f"embedding {s['embedding_dim']}, learning rate {s['learning_rate']}, batch {s['batch_size']}, "
        f"sequences of {s['seq_len']} characters\n"
        f"- **Budget**: {card['epochs']} epochs of at most {s['steps_per_epoch']} steps "
        f"({card['steps']:,} steps of {s['batch_size']} sequences in all), seed {s['seed']}\n"
        f"- **Held-out bits per character**: {card['held_out_bpc']:.3f}\n"
        f"- **Training time**: {card['training_seconds']:.0f} s on the machine that made it\n"
        f"- **Date**: {card['date']}\n"
        f"- **Command**: `{card['command']}` (then `export`; all by `make starter-models`)\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=[s.name for s in SPECS], action="append")
    parser.add_argument("--out", type=Path, default=STARTERS_DIR)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="charlstm-make-starters-") as tmp:
        work = Path(tmp)
        (work / "keras" / "datasets").mkdir(parents=True)
        shutil.copy(shared_nietzsche(), work / "keras" / "datasets" / "nietzsche.txt")
        env = {**os.environ, "KERAS_HOME": str(work / "keras"), "CHARLSTM_HOME": str(work / "home")}
        for spec in SPECS:
            if not args.only or spec.name in args.only:
                make_one(spec, args.out, env, work)


if __name__ == "__main__":
    main()
