"""Does llama.cpp serve the adapter that was trained? Greedy answers of transformers + peft (the
LoRA weights read back from the shipped GGUF adapter) against llama.cpp's server with the adapter,
started as evalkit starts it for a run (evalkit.models.local), on training prompts of a recipe
(docs/rag-vs-finetune.md).

    python benchmarks/check_adapter.py [squad2|situatedqa] [N]     (needs the finetune and local extras)
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def recipes() -> object:
    spec = importlib.util.spec_from_file_location("finetune", ROOT / "suites" / "data" / "finetune.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def complete(url: str, prompt: str) -> str:
    body = json.dumps({"prompt": prompt, "max_tokens": 24, "temperature": 0, "stop": ["\n"]}).encode()
    request = urllib.request.Request(f"{url}/completions", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as reply:
        return str(json.load(reply)["choices"][0]["text"]).strip()


def main() -> None:
    import gguf
    import numpy as np
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evalkit.models.endpoints import Adapter
    from evalkit.models.local import LocalServer

    name, n = (sys.argv[1] if len(sys.argv) > 1 else "squad2"), int(sys.argv[2]) if len(sys.argv) > 2 else 16
    finetune = recipes()
    recipe = finetune.RECIPES[name]  # type: ignore[attr-defined]
    adapter = recipe.folder / "finetune" / "adapter.gguf"
    examples = recipe.build()
    random.Random(0).shuffle(examples)
    examples = examples[:n]
    base = finetune.base_gguf()  # type: ignore[attr-defined]
    torch.set_num_threads(2)
    tokenizer = AutoTokenizer.from_pretrained(base.parent, gguf_file=base.name)
    model = AutoModelForCausalLM.from_pretrained(base.parent, gguf_file=base.name, dtype=torch.float32)
    record = json.loads((recipe.folder / "finetune" / "training.json").read_text())["recipe"]
    model = get_peft_model(model, LoraConfig(r=record["lora_rank"], lora_alpha=record["lora_alpha"],
                                             target_modules=record["target_modules"]))
    tensors = {t.name: np.array(t.data) for t in gguf.GGUFReader(str(adapter)).tensors}
    shapes = model.state_dict()
    model.load_state_dict({name: torch.tensor(tensors[stored].astype(np.float32)).reshape(shapes[name].shape)
                           for name, stored in finetune.adapter_tensor_names(model).items()},  # type: ignore[attr-defined]
                          strict=False)
    model.eval()
    by_transformers = []
    for example in examples:
        ids = tokenizer(example.prompt, return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**ids, max_new_tokens=24, do_sample=False)
        by_transformers.append(tokenizer.decode(out[0][ids.input_ids.shape[1]:]).split("\n")[0].strip())
    server = LocalServer("local:gemma3-270m", Path(tempfile.mkdtemp()), Adapter.read(adapter.name, adapter.parent))
    url = server.start()
    try:
        by_llama = [complete(url, e.prompt) for e in examples]
    finally:
        server.stop()
    same = sum(a == b for a, b in zip(by_transformers, by_llama, strict=True))
    on_target = sum(b == e.target.strip() for b, e in zip(by_llama, examples, strict=True))
    for a, b in zip(by_transformers, by_llama, strict=True):
        if a != b:
            print(f"differs: transformers {a!r}, llama.cpp {b!r}")
    print(f"{name}: {same} of {n} greedy answers the same in transformers + peft and llama.cpp + adapter; "
          f"{on_target} of {n} equal the training target")


if __name__ == "__main__":
    main()
