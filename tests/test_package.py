"""`pip install .` gives a working `charlstm` and `charlstm studio`, and the layers keep their import rules.

The install test builds this checkout into a fresh virtual environment, the way a user would, but
without downloading TensorFlow again: the new environment sees the test environment's packages
through a `.pth` file (a plain path, so nothing of this checkout leaks in through an editable
install), and charlstm itself is built and installed with `--no-deps --no-build-isolation`. Then it
runs the console script from a folder outside the checkout, so only what was packaged can work.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from helpers import free_port, serving

ROOT = Path(__file__).resolve().parent.parent
STUDIO = ROOT / "charlstm_studio"
NOT_SOURCE = (".venv", ".git", "test-results", ".hypothesis", "*_cache", "__pycache__", "build", "dist")
NOT_SOURCE += ("*.egg-info", "tests", "bench", "runs", "tmp")
STEP_SECONDS = 120


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_SECONDS)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """(the new environment's bin folder, a working folder outside the checkout, the environment variables)."""
    tmp = tmp_path_factory.mktemp("package")
    source = tmp / "source"  # a clean copy: the build writes build/ and *.egg-info beside the sources
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=STEP_SECONDS)
    python = venv / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp, {}).stdout.strip()
    )
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_charlstm_test_deps.pth").write_text("\n".join(sorted(ours)) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env |= {"CHARLSTM_HOME": str(tmp / "home"), "PYTHONNOUSERSITE": "1"}
    env.pop("CHARLSTM_STARTERS", None)
    install = [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    done = _run([*install, str(source)], tmp, env)
    assert done.returncode == 0, done.stdout + done.stderr
    outside = tmp / "elsewhere"
    outside.mkdir()
    return venv / "bin", outside, env


def test_pip_install_gives_the_cli_the_models_and_the_studio(installed):
    bin_dir, outside, env = installed
    where = _run(
        [
            str(bin_dir / "python"),
            "-c",
            "import charlstm, charlstm_studio as s; print(charlstm.__file__); print(s.__file__)",
        ],
        outside,
        env,
    )
    assert where.returncode == 0, where.stderr
    for path in where.stdout.split():
        assert Path(path).is_relative_to(bin_dir.parent), f"imported from outside the new environment: {path}"
    studio = Path(where.stdout.split()[1]).parent

    helped = _run([str(bin_dir / "charlstm"), "--help"], outside, env)
    assert helped.returncode == 0 and "studio" in helped.stdout and "generate" in helped.stdout, helped.stderr

    wrote = _run(
        [str(bin_dir / "charlstm"), "generate", "starter:nietzsche", "-n", "50", "--seed", "1", "-t", "0.5"],
        outside,
        env,
    )
    assert wrote.returncode == 0, wrote.stderr  # the ready-made models were packaged and are found
    assert "----- temperature 0.5 -----" in wrote.stdout and len(wrote.stdout.splitlines()[-1]) > 0

    # Every file the studio needs was packaged: the pages app.py registers, its glue, its one config file.
    named = re.findall(r'PAGES_DIR / "([^"]+)"', (studio / "ui" / "pages.py").read_text(encoding="utf-8"))
    pages = [f"app_pages/{name}" for name in named]
    assert len(pages) >= 5 and all((studio / page).is_file() for page in pages), pages
    assert (studio / ".streamlit" / "config.toml").is_file()
    # The installed pages run: AppTest in the new environment, each page app.py registers. A scheduler
    # address where nothing listens keeps the studio from starting a training cluster for it.
    smoke = (
        "import pathlib, charlstm_studio\n"
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file(str(pathlib.Path(charlstm_studio.__file__).parent / 'app.py'), default_timeout=60)\n"
        "at.run()\n"
        f"for page in {pages!r}:\n"
        "    at.switch_page(page).run()\n"
        "    assert not at.exception, (page, [e.value for e in at.exception])\n"
        "print('pages ran')\n"
    )
    ran = _run([str(bin_dir / "python"), "-c", smoke], outside, {**env, "CHARLSTM_SCHEDULER": "tcp://127.0.0.1:9"})
    assert ran.returncode == 0 and "pages ran" in ran.stdout, ran.stderr[-3000:]

    port = free_port()
    log_path = outside / "studio.log"
    with serving(
        [str(bin_dir / "charlstm"), "studio", "--port", str(port)], port, cwd=outside, env=env, log_path=log_path
    ):
        pass
    text = log_path.read_text(errors="replace")
    # Started from elsewhere, with no flag for it, the server still used the studio's own config:
    # it listens on 127.0.0.1 only (Streamlit's default would also print a "Network URL").
    assert f"URL: http://127.0.0.1:{port}" in text and "Network URL" not in text, text
    assert "Traceback" not in text, text


def test_the_studio_command_finds_its_app_and_refuses_a_bad_port(capsys):
    from charlstm.cli import main, studio_app

    assert studio_app().resolve() == (STUDIO / "app.py").resolve()
    with pytest.raises(SystemExit) as refused:
        main(["studio", "--port", "http"])
    assert refused.value.code == 2 and "must be a port number" in capsys.readouterr().err


# --- the layers' import rules (docs/architecture.md) ------------------------------------------------
TENSORFLOW = ("tensorflow", "keras")
TENSORFLOW_INSIDE_FUNCTIONS = {"data.py", "trainer.py", "distribute.py", "worker.py", "corpora.py"}


def _imports(folder: Path) -> dict[str, dict[str, bool]]:
    """For each .py file under `folder`: every absolute module it imports, and whether at the top of the file."""
    found: dict[str, dict[str, bool]] = {}
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = [folder.name, *path.relative_to(folder).parent.parts]  # what `from . import x` means here
        names: dict[str, bool] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                parent = package[: len(package) - node.level + 1] if node.level else []
                base = ".".join([*parent, *([node.module] if node.module else [])])
                modules = {base} | {f"{base}.{alias.name}" for alias in node.names}
            else:
                continue
            for module in modules:
                names[module] = names.get(module, False) or node in tree.body
        found[path.relative_to(folder).as_posix()] = names
    return found


def _importers(found: dict[str, dict[str, bool]], prefixes: tuple[str, ...], top: bool = False) -> set[str]:
    """The files that import a module starting with one of `prefixes` (only at the top of the file, if `top`)."""
    return {f for f, names in found.items() if any(n.startswith(prefixes) and (t or not top) for n, t in names.items())}


def test_the_core_keeps_its_imports_where_the_rules_say():
    core = _imports(ROOT / "charlstm")
    assert len(core) > 20
    assert not _importers(core, ("streamlit", "charlstm_studio"))
    assert _importers(core, TENSORFLOW, top=True) == {"model.py"}
    assert _importers(core, TENSORFLOW) <= {"model.py"} | TENSORFLOW_INSIDE_FUNCTIONS
    assert _importers(core, ("distributed",)) <= {"jobs.py", "cluster.py"}
    assert _importers(core, ("altair", "pandas")) == set()  # charts are the studio's (ui/charts.py)
    run_uses = {n.removeprefix("charlstm.").split(".")[0] for n in core["run.py"] if n.startswith("charlstm.")}
    assert run_uses <= {"config", "text", "weights", "errors", "distribute", "identity"}  # never what trains


def test_the_studio_never_loads_tensorflow():
    studio = _imports(STUDIO)
    assert len(studio) >= 8
    assert not _importers(studio, (*TENSORFLOW, "charlstm.model", "charlstm.trainer"))


# What a page or the studio's glue may never do itself: make, import, copy, export, delete or list runs, or
# open one by its folder. Those go through charlstm.library.Library, which is bound to the person asking.
RUN_WRITERS = ("charlstm.bundle", "charlstm.store.new_run", "charlstm.store.write_run", "charlstm.store.save_text_for")
FOLDER_CALLS = {"Run", "run_folders", "delete_run", "import_bundle", "export_bundle", "copy_to_library", "new_run"}


def _calls(path: Path) -> set[str]:
    """The names of every function called in a file (`f(...)` and `x.f(...)`)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else "")
    return names


def test_pages_reach_runs_only_through_the_owner_scoped_library():
    studio = _imports(STUDIO)
    assert not _importers(studio, RUN_WRITERS)
    offenders = {p.relative_to(STUDIO).as_posix(): _calls(p) & FOLDER_CALLS for p in STUDIO.rglob("*.py")}
    assert {f: calls for f, calls in offenders.items() if calls} == {}


def _cycles(folder: Path) -> list[list[str]]:
    """Import circles among one package's modules, lazy imports included (a lazy import only hides a circle)."""
    package = folder.name
    files = {f for f in _imports(folder) if not f.endswith("__init__.py")}
    module_of = {f"{package}.{f[:-3].replace('/', '.')}": f for f in files}
    graph = {f: {module_of[n] for n in names if n in module_of} - {f} for f, names in _imports(folder).items()}
    cycles, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in done:
                visit(nxt, [*path, nxt])
        done.add(node)

    for start in sorted(graph):
        if start not in done:
            visit(start, [start])
    return cycles


@pytest.mark.parametrize("folder", ["charlstm", "bench", "charlstm_studio"])
def test_no_import_circles(folder):
    """Imports point one way: a module that imports one that imports it back is one idea in two rooms."""
    assert _cycles(ROOT / folder) == []


def test_the_circle_finder_finds_a_circle(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .a import x\n")
    (pkg / "c.py").write_text("from .a import y\n")
    assert _cycles(pkg) == [["a.py", "b.py", "a.py"]]


def _run_file_names() -> set[str]:
    """Every file name of a run folder, as run.py spells them (its constants and its f-string patterns)."""
    tree = ast.parse((ROOT / "charlstm" / "run.py").read_text(encoding="utf-8"))
    names = {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant)
        and isinstance(n.value, str)
        and re.fullmatch(r"[a-z_.]+\.(json|jsonl|txt|npz|log)", n.value)
    }
    return names | {"weights.npz"}


def test_only_run_py_names_the_files_of_a_run_folder():
    """One module owns each on-disk format: elsewhere a run's files are reached through `Run`'s methods.

    bundle.py owns the bundle format, whose entries deliberately share some of the names.
    """
    names = _run_file_names()
    assert {"config.json", "history.jsonl", "corpus.txt", "weights.npz"} <= names
    offenders = []
    for folder in ("charlstm", "charlstm_studio", "bench", "tools"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name in ("run.py", "bundle.py") and path.parent.name == "charlstm":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                named = isinstance(node, ast.Constant) and isinstance(node.value, str)
                if named and (node.value in names or ".weights.npz" in node.value):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert offenders == []


MAX_CLASS_LINES = 250  # a class a newcomer can hold in mind; `Run` owns every file of a run folder and may stay


def test_no_class_in_the_core_outgrows_a_screenful_of_jobs():
    offenders = []
    for path in sorted((ROOT / "charlstm").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            lines = node.end_lineno - node.lineno + 1 if isinstance(node, ast.ClassDef) else 0
            if lines > MAX_CLASS_LINES and node.name != "Run":
                offenders.append(f"{path.name}: {node.name} has {lines} lines")
    assert offenders == []


def test_pages_never_import_each_other():
    """A page is a script Streamlit runs; what two pages share lives in ui/, not in the other page."""
    pages = {f for f in _imports(STUDIO) if f.startswith("app_pages/")}
    assert len(pages) >= 5
    importers = {f for f in pages if any(n.startswith("charlstm_studio.app_pages") for n in _imports(STUDIO)[f])}
    assert importers == set()


def test_no_switch_or_tick_box_has_a_help_icon():
    """Streamlit puts a switch's help icon inside its label: tapping the icon flips the switch (a newcomer's
    lowercase box ticked itself), and a phone has no hover to show it. Their help is a caption instead."""
    offenders = []
    for path in sorted(STUDIO.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_switch = isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("toggle", "checkbox")
            if is_switch and any(k.arg == "help" for k in node.keywords):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
