"""Task runner: every session installs evalkit with the pinned versions in constraints.txt."""

from __future__ import annotations

import runpy

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True  # a second run skips the install when nothing changed

CONSTRAINTS = ("-c", "constraints.txt")
# no hub downloads, no telemetry: the package's own list (evalkit/core/offline.py needs only the stdlib)
OFFLINE: dict[str, str] = runpy.run_path("evalkit/core/offline.py")["OFFLINE"]


def _install(session: nox.Session, extras: str = "") -> None:
    session.install(*CONSTRAINTS, "-e", f".[{extras}]" if extras else ".")


def _pytest(session: nox.Session, component: str | None = None) -> None:
    """The offline tests (the default selection in pyproject.toml), or one real component's tests
    (tests/<component>, marked <component>: browser, local or ray)."""
    if component is None:
        session.run("pytest", *session.posargs, env=OFFLINE)
    else:
        session.run("pytest", f"tests/{component}", "-m", component, *session.posargs, env=OFFLINE)


def _run_lint(session: nox.Session) -> None:
    session.run("ruff", "check", "evalkit", "training", "tests", "benchmarks", "suites", "noxfile.py")
    session.run("mypy", "evalkit")
    session.run("lint-imports")


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and end-to-end tests (offline; the model-endpoint tests start their own local server)."""
    _install(session, "test")
    _pytest(session)


@nox.session
def local(session: nox.Session) -> None:
    """End-to-end tests on the real local model (llama.cpp's server with Gemma 3 270M)."""
    _install(session, "local,test")
    _pytest(session, "local")


@nox.session
def browser(session: nox.Session) -> None:
    """The MLflow UI (a real `mlflow server`) and the HTML report in headless Chromium (the system's)."""
    _install(session, "browser,test")
    _pytest(session, "browser")


@nox.session
def ray(session: nox.Session) -> None:
    """The Ray executor on a real local Ray cluster (ray start --head on loopback, 2 worker CPUs)."""
    _install(session, "ray,test")
    _pytest(session, "ray")


@nox.session
def ci(session: nox.Session) -> None:
    """What CI runs: lint, the offline tests, then the browser, local-model and Ray tests, in one
    environment with every extra (one install instead of five: the sessions above each install
    torch, MLflow and the rest, 5-7 minutes apiece on 2 cores). Stops at the first failure."""
    _install(session, "lint,test,browser,local,ray")
    _run_lint(session)
    _pytest(session)
    for component in ("browser", "local", "ray"):
        _pytest(session, component)


# the demo's suites, first table first, each sized to keep a cold demo under 8 minutes on 2 cores
# (benchmarks/bench_demo.py); `nox -s demo -- full` runs each at the suite's own size
DEMO = (("suites/scifact.yaml", ("--candidate", "bm25")),
        ("suites/squad2.yaml", ("--limit", "24")),
        ("suites/squad2-finetune.yaml", ("--limit", "24")))


@nox.session
def demo(session: nox.Session) -> None:
    """The demo: SciFact retrieval with BM25, then SQuAD 2.0 closed-book against RAG on a real local
    model (llama.cpp's server with Gemma 3 270M), then the same model fine-tuned (the shipped LoRA
    adapter) against RAG. Writes reports/<suite>/<run>/ and runs in ./mlflow.db. `-- full` runs every
    candidate on every case of each suite (about an hour on 2 cores); other arguments go to each run."""
    _install(session, "local")
    full = "full" in session.posargs
    arguments = [a for a in session.posargs if a != "full"]
    for suite, small in DEMO:
        session.run("evalkit", "run", suite, *(() if full else small), *arguments, env=OFFLINE, success_codes=[0, 1])


@nox.session
def finetune(session: nox.Session) -> None:
    """Rebuild the fine-tuned models of the *-finetune suites: LoRA adapters for Gemma 3 270M trained on
    CPU (about 20 minutes on 2 cores), each written with its record and loss plot to
    suites/data/<suite>/finetune/. Arguments go to the script (e.g. -- squad2 --epochs 1)."""
    _install(session, "finetune")
    session.run("python", "suites/data/finetune.py", *session.posargs, env=OFFLINE)


@nox.session(name="judge-bench")
def judge_bench(session: nox.Session) -> None:
    """The judge benchmark: fit offline-v7 (the default) and v8 on train rows, choose their designs
    on dev rows, and measure every offline judge version on every source's test rows (training/judge_data.py
    says which rows are which). Writes the weights, the record and docs/judge-benchmark.json, and prints
    the table. `-- --measure-only` keeps the shipped weights."""
    _install(session, "test")
    session.run("python", "-m", "training.judge_bench", *session.posargs, env=OFFLINE)


@nox.session(name="train-judge")
def train_judge(session: nox.Session) -> None:
    """Retrain the offline-v6 judge (a MiniLM cross-encoder) on CPU, with its 5-fold cross-validation on
    AttributionBench dev and its figures on held-out SQuAD articles; writes the weights, records and
    loss plot (training/train_cross.py). Arguments go to the script (e.g. -- --folds 0)."""
    _install(session, "finetune,test")
    session.run("python", "-m", "training.train_cross", *session.posargs, env=OFFLINE)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, mypy, and the import layers (import-linter contracts in pyproject.toml)."""
    _install(session, "lint,test")
    _run_lint(session)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: print the figures recorded in the README and docs/."""
    _install(session, "test")
    scripts = ["benchmarks/bench_judge.py", "benchmarks/bench_llm.py", "benchmarks/bench_demo.py"]
    for script in session.posargs or scripts:
        session.run("python", script, env=OFFLINE)
