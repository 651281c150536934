#!/usr/bin/env python3
"""PyTorch side of `securecoderl bench model`: the same shapes, batches, LoRA and AdamW, timed the same way.

Optional (needs torch, transformers and peft; nothing in CI runs it). Run it in the same window as
`securecoderl bench model` with the same RAYON_NUM_THREADS, e.g.

    RAYON_NUM_THREADS=2 python3 scripts/bench-torch.py --steps 2

Each row builds a random model (f32), runs one untimed step and `--steps` timed steps of forward +
cross-entropy + backward + gradient clipping at 1.0 + AdamW (lr 1e-4, weight decay 0.01), on token ids
given by the formula bench model uses, and prints s/step, tokens/s and the peak RSS of the first step
(VmHWM after resetting it, as bench model does) and its growth over the RSS when the step began. Rows: full fine-tuning of the tiny model and the 6.4M
shape at 8x256; LoRA (r 16, alpha 32, dropout 0.05, q/k/v/o: the `sft` defaults) on the tiny model, the
6.4M shape, the 16.7M LLaMA at 4x1024 and the Qwen2.5-0.5B shape with --qwen-layers layers at 2x128.
"""

import argparse
import gc
import json
import os
import pathlib
import time

import torch
import transformers
import peft

ROOT = pathlib.Path(__file__).resolve().parent.parent


def peak_rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss():
    # As bench model does: hand freed heap back to the kernel first, then restart VmHWM.
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def ids(b, t, vocab, salt):
    v = [((i * 7919 + salt * 104729) % vocab) for i in range(b * t)]
    return torch.tensor(v, dtype=torch.long).view(b, t)


def shapes(qwen_layers):
    tiny = json.loads((ROOT / "models/tiny/config.json").read_text())
    s64 = dict(model_type="llama", vocab_size=4096, hidden_size=256, intermediate_size=688,
               num_hidden_layers=6, num_attention_heads=8, num_key_value_heads=4, tie_word_embeddings=False)
    m167 = dict(model_type="llama", vocab_size=4000, hidden_size=512, intermediate_size=1376,
                num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=8, tie_word_embeddings=False)
    qwen = dict(model_type="qwen2", vocab_size=151936, hidden_size=896, intermediate_size=4864,
                num_hidden_layers=qwen_layers, num_attention_heads=14, num_key_value_heads=2,
                rope_theta=1000000.0, tie_word_embeddings=True)
    return [
        ("tiny default", tiny, False, (8, 256)),
        ('mlstack "s" 6.4M', s64, False, (8, 256)),
        ("tiny default", tiny, True, (8, 256)),
        ('mlstack "s" 6.4M', s64, True, (8, 256)),
        ("LLaMA 16.7M, 4 layers of 512", m167, True, (4, 1024)),
        (f"Qwen2.5-0.5B shape, {qwen_layers} of 24 layers", qwen, True, (2, 128)),
    ]


def build(cfg, lora):
    cfg = dict(cfg)
    model_type = cfg.pop("model_type")
    for k in ("architectures", "torch_dtype"):
        cfg.pop(k, None)
    conf = transformers.AutoConfig.for_model(model_type, **cfg)
    torch.manual_seed(1)
    model = transformers.AutoModelForCausalLM.from_config(conf, dtype=torch.float32)
    params = sum(p.numel() for p in model.parameters())
    if lora:
        model = peft.get_peft_model(model, peft.LoraConfig(
            r=16, lora_alpha=32, lora_dropout=0.05,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM"))
    model.train()
    return model, params


def step(model, opt, b, t, vocab, salt):
    x, y = ids(b, t, vocab, salt), ids(b, t, vocab, salt + 1000)
    start = time.perf_counter()
    logits = model(input_ids=x).logits
    loss = torch.nn.functional.cross_entropy(logits.float().view(-1, vocab), y.view(-1))
    loss.backward()
    params = [p for p in model.parameters() if p.requires_grad]
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    assert torch.isfinite(loss).item()
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--qwen-layers", type=int, default=2)
    ap.add_argument("--skip-qwen", action="store_true")
    a = ap.parse_args()
    threads = int(os.environ.get("RAYON_NUM_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    print(f"bench-torch: torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, "
          f"{threads} thread(s), f32, load average {os.getloadavg()[0]:.2f} at start")
    print()
    print("| model | params | trained | batch | s/step | train tok/s | peak RSS (first step) | RSS growth |")
    print("|---|---|---|---|---|---|---|---|")
    for name, cfg, lora, (b, t) in shapes(a.qwen_layers):
        if a.skip_qwen and cfg["model_type"] == "qwen2":
            continue
        model, params = build(cfg, lora)
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4,
                                betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
        reset_peak_rss()
        before = peak_rss_mib()
        step(model, opt, b, t, cfg["vocab_size"], 0)
        peak = peak_rss_mib()
        secs = sum(step(model, opt, b, t, cfg["vocab_size"], 10 + s) for s in range(a.steps)) / a.steps
        trained = "LoRA r16 q/k/v/o" if lora else "all weights"
        print(f"| {name} | {params / 1e6:.1f}M | {trained} | {b}x{t} | {secs:.2f} | {b * t / secs:.0f} | {peak:.0f} MiB | {peak - before:.0f} MiB |",
              flush=True)
        del model, opt
        gc.collect()


if __name__ == "__main__":
    main()
