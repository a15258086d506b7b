#!/usr/bin/env python3
"""The reference for `ddpm bench`: the same UNet and training/sampling step in eager Python PyTorch.

Reads the same JSON config (model, diffusion and train sections), builds the identical network
(same layers, same parameter count), and times on the same machine:
  train:  forward, ε-loss, backward, gradient clipping, AdamW, EMA update      (per optimizer step)
  sample: one ancestral (DDPM) sampler step with the EMA network in inference mode
after warm-up, repeated, reporting median images/s and ms/step, like `ddpm bench`.

    /usr/bin/python3 scripts/bench/bench_reference.py --config configs/default.json --json
    python3 scripts/bench/bench_reference.py --config configs/cifar10.json --device cuda

Needs only PyTorch (Debian's python3-torch 1.13 on the CPU, or any PyTorch 2.x with CUDA).
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MODEL_DEFAULTS = dict(image_size=32, in_channels=3, base_channels=128, channel_mults=[1, 2, 2, 2],
                      num_res_blocks=2, attention_resolutions=[16], num_heads=1, dropout=0.1,
                      num_groups=32, num_classes=0)
DIFFUSION_DEFAULTS = dict(timesteps=1000, schedule="linear", beta_start=1e-4, beta_end=0.02,
                          cosine_s=0.008)
TRAIN_DEFAULTS = dict(batch_size=128, lr=2e-4, adam_beta1=0.9, adam_beta2=0.999, adam_eps=1e-8,
                      weight_decay=0.0, grad_clip=1.0, ema_decay=0.9999)


def timestep_embedding(t, dim):
    half = dim // 2
    step = math.log(10000.0) / max(half - 1, 1)
    freqs = torch.exp(torch.arange(half, dtype=torch.float32, device=t.device) * -step)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb, dropout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return (self.skip(x) if self.skip is not None else x) + h


class Attention(nn.Module):
    def __init__(self, ch, heads, groups):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)

    def forward(self, x):
        B, C, H, W = x.shape
        d = C // self.heads
        qkv = self.qkv(self.norm(x)).reshape(B, 3, self.heads, d, H * W)
        q, k, v = (qkv[:, i].transpose(-2, -1) for i in range(3))
        if hasattr(F, "scaled_dot_product_attention"):
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            out = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1) @ v
        return x + self.proj(out.transpose(-2, -1).reshape(B, C, H, W))


class UNet(nn.Module):
    def __init__(self, m):
        super().__init__()
        ch, groups, temb = m["base_channels"], m["num_groups"], 4 * m["base_channels"]
        self.ch = ch
        self.fc1, self.fc2 = nn.Linear(ch, temb), nn.Linear(temb, temb)
        self.class_embed = (nn.Embedding(m["num_classes"] + 1, temb)
                            if m["num_classes"] > 0 else None)
        self.conv_in = nn.Conv2d(m["in_channels"], ch, 3, padding=1)
        self.down, skips, cur, res = nn.ModuleList(), [ch], ch, m["image_size"]
        mults = m["channel_mults"]
        block = lambda cin, cout: ResBlock(cin, cout, temb, m["dropout"], groups)
        attn = lambda c, r: Attention(c, m["num_heads"], groups) if r in m["attention_resolutions"] else None
        for i, mult in enumerate(mults):
            for _ in range(m["num_res_blocks"]):
                self.down.append(nn.ModuleList([block(cur, ch * mult), attn(ch * mult, res)]))
                cur = ch * mult
                skips.append(cur)
            if i + 1 < len(mults):
                self.down.append(nn.Conv2d(cur, cur, 3, stride=2, padding=1))
                skips.append(cur)
                res //= 2
        self.mid1, self.mid_attn, self.mid2 = block(cur, cur), Attention(cur, m["num_heads"], groups), block(cur, cur)
        self.up = nn.ModuleList()
        for i in reversed(range(len(mults))):
            for _ in range(m["num_res_blocks"] + 1):
                self.up.append(nn.ModuleList([block(cur + skips.pop(), ch * mults[i]), attn(ch * mults[i], res)]))
                cur = ch * mults[i]
            if i > 0:
                self.up.append(nn.Conv2d(cur, cur, 3, padding=1))
                res *= 2
        self.norm_out = nn.GroupNorm(groups, cur)
        self.conv_out = nn.Conv2d(cur, m["in_channels"], 3, padding=1)

    def forward(self, x, t, y=None):
        temb = self.fc2(F.silu(self.fc1(timestep_embedding(t, self.ch))))
        if self.class_embed is not None:
            temb = temb + self.class_embed(y)
        h = self.conv_in(x)
        hs = [h]
        for layer in self.down:
            if isinstance(layer, nn.Conv2d):
                h = layer(h)
            else:
                h = layer[0](h, temb)
                if layer[1] is not None:
                    h = layer[1](h)
            hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, temb)), temb)
        for layer in self.up:
            if isinstance(layer, nn.Conv2d):
                h = layer(F.interpolate(h, scale_factor=2.0, mode="nearest"))
            else:
                h = layer[0](torch.cat([h, hs.pop()], dim=1), temb)
                if layer[1] is not None:
                    h = layer[1](h)
        return self.conv_out(F.silu(self.norm_out(h)))


def betas_for(d):
    T = d["timesteps"]
    if d["schedule"] == "cosine":
        f = lambda t: math.cos((t / T + d["cosine_s"]) / (1 + d["cosine_s"]) * math.pi / 2) ** 2
        return torch.tensor([min(1 - f(i + 1) / f(i), 0.999) for i in range(T)], dtype=torch.float64)
    return torch.linspace(d["beta_start"], d["beta_end"], T, dtype=torch.float64)


def timed(fn, warmup, repeats, sync):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True)
    p.add_argument("--batch", type=int, default=0, help="training batch (0: the config's)")
    p.add_argument("--sample-batch", type=int, default=0, help="sampling batch (0: same as --batch)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--what", default="train,sample")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="0: all cores")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()

    with open(a.config) as f:
        cfg = json.load(f)
    m = {**MODEL_DEFAULTS, **cfg.get("model", {})}
    d = {**DIFFUSION_DEFAULTS, **cfg.get("diffusion", {})}
    tc = {**TRAIN_DEFAULTS, **cfg.get("train", {})}
    torch.set_num_threads(a.threads or os.cpu_count())
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)

    model = UNet(m).to(device)
    ema = UNet(m).to(device).eval()
    ema.load_state_dict(model.state_dict())
    for q in ema.parameters():
        q.requires_grad_(False)
    params = sum(q.numel() for q in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=tc["lr"], betas=(tc["adam_beta1"], tc["adam_beta2"]),
                            eps=tc["adam_eps"], weight_decay=tc["weight_decay"])
    betas = betas_for(d)
    alphas_cumprod = torch.cumprod(1 - betas, 0)
    sqrt_ab = alphas_cumprod.sqrt().float().to(device)
    sqrt_1mab = (1 - alphas_cumprod).sqrt().float().to(device)
    T = d["timesteps"]
    B = a.batch or tc["batch_size"]
    SB = a.sample_batch or B
    shape = (m["in_channels"], m["image_size"], m["image_size"])
    data = torch.randint(0, 256, (B, *shape), dtype=torch.uint8)
    labels = torch.randint(0, max(m["num_classes"], 1), (B,), device=device) if m["num_classes"] else None

    def train_step():
        x0 = data.to(device, non_blocking=True).float().div_(127.5).sub_(1)
        t = torch.randint(0, T, (B,), device=device)
        noise = torch.randn_like(x0)
        xt = sqrt_ab[t][:, None, None, None] * x0 + sqrt_1mab[t][:, None, None, None] * noise
        with (torch.autocast(device.type, dtype=torch.bfloat16) if a.bf16 else _null()):
            out = model(xt, t, labels)
        loss = F.mse_loss(out.float(), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if tc["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc["grad_clip"])
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - tc["ema_decay"])

    # One ancestral step x_{t-1} = μ_θ(x_t, t) + σ_t z at a mid-range t (the cost is the same at every t).
    alphas = (1 - betas)
    ab_prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
    post_var = (betas * (1 - ab_prev) / (1 - alphas_cumprod))
    x_state = {"x": torch.randn(SB, *shape, device=device)}
    t_mid = T // 2
    c_x0 = float(1 / alphas_cumprod[t_mid].sqrt()), float((1 / alphas_cumprod[t_mid] - 1).sqrt())
    c_mean = (float(ab_prev[t_mid].sqrt() * betas[t_mid] / (1 - alphas_cumprod[t_mid])),
              float(alphas[t_mid].sqrt() * (1 - ab_prev[t_mid]) / (1 - alphas_cumprod[t_mid])))
    sigma = float(post_var[t_mid].sqrt())
    tt = torch.full((SB,), t_mid, dtype=torch.long, device=device)
    sample_labels = torch.full((SB,), m["num_classes"], device=device) if m["num_classes"] else None

    def sample_step():
        with torch.inference_mode(), (torch.autocast(device.type, dtype=torch.bfloat16) if a.bf16 else _null()):
            x = x_state["x"]
            eps = ema(x, tt, sample_labels).float()
            x0 = (c_x0[0] * x - c_x0[1] * eps).clamp_(-1, 1)
            x_state["x"] = c_mean[0] * x0 + c_mean[1] * x + sigma * torch.randn_like(x)

    results = {"implementation": "python-pytorch", "config": a.config, "parameters": params,
               "device": str(device), "threads": torch.get_num_threads(), "torch": torch.__version__,
               "python": platform.python_version(), "machine": platform.machine(),
               "cpu": _cpu_name(), "bf16": a.bf16, "runs": []}
    model.train()
    for what in a.what.split(","):
        if what == "train":
            sec = timed(train_step, a.warmup, a.repeats, sync)
            results["runs"].append({"what": "train", "batch": B, "ms_per_step": sec * 1e3,
                                    "images_per_sec": B / sec})
        elif what == "sample":
            sec = timed(sample_step, a.warmup, a.repeats, sync)
            results["runs"].append({"what": "sample", "batch": SB, "ms_per_step": sec * 1e3,
                                    "images_per_sec": SB / sec})
        else:
            sys.exit(f"bench_reference.py: --what {what}: expected train or sample")
    if a.json:
        print(json.dumps(results))
    else:
        print(f"python reference: {params} parameters, torch {torch.__version__}, {device}, "
              f"{torch.get_num_threads()} threads")
        for r in results["runs"]:
            print(f"  {r['what']:6s} batch {r['batch']:4d}: {r['ms_per_step']:9.1f} ms/step  "
                  f"{r['images_per_sec']:9.1f} images/s")


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
