"""Versioned prompt templates, for chat models and for base models (few-shot completion).

A template is named with its version (`grounded-completion-v1`); the name is part of the
candidate's config, so a changed template is a changed candidate and never reuses old outputs.
Every sample records the prompt it was rendered to (`Output.prompt`).

- chat: a system message with the instructions and a user message (instruction-tuned models).
- completion: the instructions, worked examples and the question as one text the model continues,
  cut at a stop sequence (base models, which do not follow instructions but do continue patterns).
  Examples come from a JSONL file (`question`, `answer` or null for "declines", `passages`,
  `cite`); an example whose `id` is the scored case's is never shown for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalkit.core.errors import EvalkitError

Api = Literal["chat", "completion"]

_PASSAGES = "{% for p in passages %}[{{ p.doc_id }}] {{ p.text }}\n{% endfor %}"
_EXAMPLE_PASSAGES = "{% for p in ex.passages %}[{{ p.doc_id }}] {{ p.text }}\n{% endfor %}"


@dataclass(frozen=True)
class PromptTemplate:
    api: Api
    system: str  # chat: the system message; completion: unused (the instructions open the prompt)
    prompt: str  # jinja2: `question`, `passages` (grounded), `examples` (completion)
    stop: tuple[str, ...] = ()
    grounded: bool = False


TEMPLATES: dict[str, PromptTemplate] = {
    "closed-book-chat-v1": PromptTemplate("chat", "Answer the question concisely and factually.", "{{ question }}"),
    "grounded-chat-v1": PromptTemplate(
        "chat",
        "Answer the question using only the passages. After each sentence, cite the passages it comes from as "
        "[doc id]. If the passages do not answer the question, say that you do not know.",
        "Passages:\n" + _PASSAGES + "\nQuestion: {{ question }}", grounded=True),
    "closed-book-completion-v1": PromptTemplate(
        "completion", "",
        "Answer each question with a short phrase. When you do not know the answer, say: I don't know.\n\n"
        "{% for ex in examples %}Question: {{ ex.question }}\nAnswer: "
        "{{ ex.answer if ex.answer else \"I don't know.\" }}\n\n{% endfor %}"
        "Question: {{ question }}\nAnswer:",
        stop=("\n",)),
    "grounded-completion-v1": PromptTemplate(
        "completion", "",
        "Answer each question with a short phrase from the passages and cite the passage as [id]. When the "
        "passages do not answer the question, say: The passages do not say.\n\n"
        "{% for ex in examples %}Passages:\n" + _EXAMPLE_PASSAGES + "Question: {{ ex.question }}\nAnswer: "
        "{% if ex.answer %}{{ ex.answer }}{% for d in ex.cite %} [{{ d }}]{% endfor %}"
        "{% else %}The passages do not say.{% endif %}\n\n{% endfor %}"
        "Passages:\n" + _PASSAGES + "Question: {{ question }}\nAnswer:",
        stop=("\n",), grounded=True),
}


def default_template(api: Api, grounded: bool) -> str:
    return f"{'grounded' if grounded else 'closed-book'}-{api}-v1"


def template(name: str) -> PromptTemplate:
    if name not in TEMPLATES:
        raise EvalkitError(f"unknown prompt template '{name}'", hint=f"templates: {', '.join(TEMPLATES)}")
    return TEMPLATES[name]


@dataclass(frozen=True)
class Example:
    id: str
    question: str
    answer: str | None  # None: the example declines
    passages: list[dict[str, str]]
    cite: list[str]


def load_examples(path: Path) -> list[Example]:
    """Few-shot examples from a JSONL file; each line's problems are reported with file:line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalkitError(f"cannot read the examples file: {exc.strerror or exc}", where=str(path)) from None
    examples = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row: dict[str, Any] = json.loads(line)
            examples.append(Example(str(row.get("id", f"example-{number}")), str(row["question"]), row.get("answer"),
                                    list(row.get("passages", [])), [str(d) for d in row.get("cite", [])]))
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalkitError(f"bad example ({type(exc).__name__}: {exc})", where=f"{path}:{number}",
                               hint="each line is {\"question\": ..., \"answer\": ... or null, \"passages\": "
                                    "[{\"doc_id\": ..., \"text\": ...}], \"cite\": [...]}") from None
    return examples


def examples_for(examples: list[Example], case_id: str, n: int) -> list[Example]:
    """The first n examples that are not the scored case itself."""
    return [example for example in examples if example.id != case_id][:n]
