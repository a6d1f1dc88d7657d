#!/usr/bin/env bash
# Ready for a GPU: one script that measures what the paper profile does on a GPU and checks it against the CPU.
#
#   benchmarks/gpu_check.sh            # on a machine with a CUDA GPU (under 8 minutes), prints one table
#   benchmarks/gpu_check.sh --cpu      # smoke run anywhere: small sizes, the GPU rows say why they are skipped
#
# Measures: ViT-L/14 image-embedding throughput through kit's open_clip encoder (random weights, bf16 and fp16
# autocast, a batch sweep, model throughput on preprocessed tensors already on the device); TopK SAE training
# throughput through kit.sae.train (d 768, D 4,096, k 32, batch 1,024); FBMP at CUB test-split scale (N 5,794,
# C 312, D 4,096, 32 active latents) on the GPU and on the CPU; TAPAScore from both matchings. Checks: the GPU's
# and the CPU's coalitions are identical and their TAPAScores equal (to the last bit); SAE codes encoded on the
# GPU against the CPU's (reported, not required: float32 sums in another order can swap a TopK tie).
# The whole script runs under `timeout` (GPU_CHECK_TIMEOUT seconds, default 470), so one call with a timeout
# of 8 minutes is enough; each section also keeps to its own time budget. Nothing is written to disk.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
exec timeout --kill-after=10 "${GPU_CHECK_TIMEOUT:-470}" "$PY" - "$@" <<'PYTHON'
import argparse
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks"))
import numpy as np
import torch

ap = argparse.ArgumentParser(prog="benchmarks/gpu_check.sh")
ap.add_argument("--cpu", action="store_true", help="smoke run without a GPU: small sizes, GPU rows skipped")
ap.add_argument("--budget", type=float, default=None, help="seconds per measurement (default 3; --cpu: 1)")
a = ap.parse_args()
START = time.perf_counter()
cuda = torch.cuda.is_available() and not a.cpu
dev = "cuda" if cuda else "cpu"
budget = a.budget or (3.0 if cuda else 1.0)
rows = []  # (section, measurement, value, note)
failures = []


def row(section, what, value, note=""):
    rows.append((section, what, value, note))
    print(f"  {section:9s} {what:46s} {value:>22s}  {note}", flush=True)


def sync():
    if cuda:
        torch.cuda.synchronize()


def rate(fn, n_items, min_s=None):
    """items/s of fn() (after one warm-up call), timed over at least min_s seconds."""
    min_s = budget if min_s is None else min_s
    fn()
    sync()
    t, reps = time.perf_counter(), 0
    while True:
        fn()
        reps += 1
        sync()
        if time.perf_counter() - t >= min_s:
            break
    return n_items * reps / (time.perf_counter() - t)


def section(name, fn):
    t = time.perf_counter()
    try:
        fn()
    except Exception as e:  # one failing section does not hide the others' figures
        failures.append(name)
        row(name, "FAILED", type(e).__name__, str(e).splitlines()[0][:90] if str(e) else "")
        traceback.print_exc()
    print(f"  ({name}: {time.perf_counter() - t:.0f} s)", flush=True)


print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.get_num_threads()} CPU threads", flush=True)
if cuda:
    p = torch.cuda.get_device_properties(0)
    row("device", "GPU", p.name, f"{p.total_memory / 2**30:.0f} GiB, bf16 {torch.cuda.is_bf16_supported()}")
else:
    why = "--cpu given" if a.cpu else "no CUDA device"
    row("device", "GPU", "none", f"{why}: GPU rows are skipped, sizes are small (a smoke run)")


def embedding():
    import kit.embed as ke

    name = "open_clip:ViT-L-14/random" if cuda else "open_clip:ViT-B-32/random"
    t = time.perf_counter()
    enc = ke.load_encoder(name, device=dev)
    row("embed", f"build {name.split(':', 1)[1]}", f"{time.perf_counter() - t:.1f} s",
        "" if cuda else "ViT-B/32 on the CPU stands in for ViT-L/14")
    size = 224
    x_all = torch.randn(512 if cuda else 8, 3, size, size, device=dev)
    kit_dtype = ("bfloat16" if torch.cuda.is_bf16_supported() else "float16") if cuda else "float32"
    row("embed", "kit's compute dtype (autocast)", kit_dtype)
    if not cuda:
        r = rate(lambda: enc.encode_images(x_all[:8]), 8)
        row("embed", "float32, batch 8 (CPU)", f"{r:,.1f} img/s")
        row("embed", "bf16/fp16 autocast batch sweep", "skipped", "needs a GPU")
        return
    module = enc.module
    for dtype in (torch.bfloat16, torch.float16):
        if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
            row("embed", "bfloat16", "skipped", "not supported by this GPU")
            continue
        for bs in (64, 128, 256, 512):
            torch.cuda.reset_peak_memory_stats()
            x = x_all[:bs]

            def step():
                with torch.inference_mode(), torch.autocast("cuda", dtype=dtype):
                    module.encode_image(x)
            r = rate(step, bs)
            mem = torch.cuda.max_memory_allocated() / 2**30
            row("embed", f"ViT-L/14 {str(dtype)[6:]}, batch {bs}", f"{r:,.0f} img/s", f"peak {mem:.1f} GiB")
    with torch.inference_mode():
        ref = module.encode_image(x_all[:64]).float()
    out = enc.encode_images(x_all[:64])  # kit's own path (autocast chosen by the kit)
    err = ((out - ref).norm(dim=1) / ref.norm(dim=1)).max().item()
    row("embed", "kit autocast vs float32: max relative error", f"{err:.2e}", "per embedding, 64 images")
    del enc, module
    torch.cuda.empty_cache()


def sae_training():
    import kit.sae as S

    d, D, k, bs = 768, 4096, 32, 1024
    steps = 300 if cuda else 6
    X = np.random.default_rng(0).standard_normal((bs * steps, d), dtype=np.float32)
    common = dict(batch_size=bs, val_fraction=0.0, progress=False, device=dev)
    S.train(X[: bs * 2], dict_size=D, k=k, max_steps=2, **common)  # warm-up (kernels, allocator)
    sync()
    t = time.perf_counter()
    S.train(X, dict_size=D, k=k, max_steps=steps, **common)
    sync()
    s = time.perf_counter() - t
    row("sae", f"TopK d {d}, D {D}, k {k}, batch {bs} ({dev})", f"{steps * bs / s:,.0f} samples/s",
        f"{s / steps * 1e3:.1f} ms/step, {steps} steps")
    if cuda:
        epoch = 5994 * 0.85 / (steps * bs / s)
        row("sae", "one epoch of CUB's training images", f"{epoch * 1e3:.0f} ms", "5,994 × 0.85 rows")


STATE = {}


def matching():
    from bench_matching import realistic

    from kit.matching import binarize, fbmp

    n, c, D = (5794, 312, 4096) if cuda else (1200, 64, 1024)
    Y, B = realistic(n, c, D, seed=0)
    STATE["Y"], STATE["B"] = Y, B
    t = time.perf_counter()
    m_cpu = fbmp(Y, B, beta=0.5, max_size=20, device="cpu")
    t_cpu = time.perf_counter() - t
    row("fbmp", f"N {n}, C {c}, D {D}, β 0.5, 20 steps: CPU", f"{t_cpu:.2f} s", f"{torch.get_num_threads()} threads")
    STATE["m_cpu"] = m_cpu
    if not cuda:
        row("fbmp", "GPU", "skipped", "needs a GPU")
        return
    fbmp(Y[:64], B[:64], beta=0.5, max_size=2, device="cuda")  # warm-up
    sync()
    t = time.perf_counter()
    m_gpu = fbmp(Y, B, beta=0.5, max_size=20, device="cuda")
    sync()
    t_gpu = time.perf_counter() - t
    row("fbmp", "the same on the GPU", f"{t_gpu:.2f} s", f"{t_cpu / t_gpu:.1f}× the CPU")
    same = m_gpu.coalitions == m_cpu.coalitions and np.array_equal(m_gpu.rec_f1, m_cpu.rec_f1)
    row("check", "FBMP coalitions and F1 curves GPU == CPU", "identical" if same else "DIFFER")
    if not same:
        failures.append("fbmp agreement")
    STATE["m_gpu"] = m_gpu
    S = binarize(torch.from_numpy(B).cuda(), 0.5, sparse=True)  # sparse patterns made on the GPU
    sync()
    t = time.perf_counter()
    m_sparse = fbmp(Y, S, beta=0.5, max_size=20, device="cuda")
    sync()
    row("fbmp", "from sparse patterns on the GPU", f"{time.perf_counter() - t:.2f} s", "dense column blocks")
    same = m_sparse.coalitions == m_cpu.coalitions and np.array_equal(m_sparse.rec_f1, m_cpu.rec_f1)
    row("check", "FBMP from sparse patterns (GPU) == CPU", "identical" if same else "DIFFER")
    if not same:
        failures.append("fbmp from sparse patterns")


def tapas():
    from kit.tapas import tapascore

    if "m_cpu" not in STATE:
        row("tapas", "TAPAScore", "skipped", "no matching (the FBMP section failed)")
        return
    Y, B = STATE["Y"], STATE["B"]
    rng = np.random.default_rng(1)
    p = 2000 if cuda else 300
    rows_ = rng.integers(0, len(Y), p)
    Zo = B[rows_].astype(np.float32) * rng.uniform(0.5, 2, (p, B.shape[1])).astype(np.float32)
    Ze = np.roll(Zo, 1, axis=0)
    lo = Y[rows_]
    old = np.array([rng.choice(np.flatnonzero(r)) if r.any() else 0 for r in lo])
    lo[np.arange(p), old] = True
    new = np.full(p, -1)
    t = time.perf_counter()
    r_cpu = tapascore(Zo, Ze, old, new, STATE["m_cpu"], k=3, labels_orig=lo, n_boot=1000)
    row("tapas", f"TAPAScore, {p} pairs, k 3, 1,000 resamples", f"{(time.perf_counter() - t) * 1e3:.0f} ms",
        "numpy, from the CPU matching")
    if "m_gpu" not in STATE:
        row("tapas", "from the GPU matching", "skipped", "needs a GPU")
        return
    Zo_t, Ze_t = torch.from_numpy(Zo).to("cuda"), torch.from_numpy(Ze).to("cuda")
    r_gpu = tapascore(Zo_t, Ze_t, old, new, STATE["m_gpu"], k=3, labels_orig=lo, n_boot=1000)
    equal = (r_gpu.score == r_cpu.score and r_gpu.ci == r_cpu.ci and r_gpu.delta_stay == r_cpu.delta_stay)
    row("check", "TAPAScore (GPU codes + matching) == CPU", "equal" if equal else "DIFFER",
        f"{r_cpu.score:.6f} [{r_cpu.ci[0]:.4f}, {r_cpu.ci[1]:.4f}]")
    if not equal:
        failures.append("tapascore agreement")


def sae_codes():
    import kit.sae as S
    from kit.sae.model import encode_array

    if not cuda:
        row("check", "SAE codes GPU vs CPU", "skipped", "needs a GPU")
        return
    X = np.random.default_rng(2).standard_normal((4096, 768), dtype=np.float32)
    sae = S.train(X, dict_size=4096, k=32, max_steps=20, batch_size=1024, val_fraction=0.0, progress=False,
                  device="cuda")
    z_gpu, z_cpu = encode_array(sae, X, device="cuda"), encode_array(sae, X, device="cpu")
    same_set = ((z_gpu > 0) == (z_cpu > 0)).all(axis=1).mean()
    row("check", "SAE codes GPU vs CPU: identical active sets", f"{same_set:.2%} of rows",
        f"max |Δ| {np.abs(z_gpu - z_cpu).max():.1e} (float32 sums in another order)")


for name, fn in (("embed", embedding), ("sae", sae_training), ("fbmp", matching), ("tapas", tapas),
                 ("codes", sae_codes)):
    section(name, fn)

total = time.perf_counter() - START
print()
print(f"| section | measurement | value | note |\n|---|---|---|---|")
for s, w, v, n in rows:
    print(f"| {s} | {w} | {v} | {n} |")
print(f"\n{'GPU' if cuda else 'CPU smoke'} check finished in {total:.0f} s"
      + (f"; FAILED: {', '.join(failures)}" if failures else "; all checks passed"))
sys.exit(1 if failures else 0)
PYTHON
