"""Embedding speed of kit.embed: the toy encoder on the CPU, ViT-L/14 (random weights) on the CPU and, when a
CUDA GPU is present, ViT-L/14 at 224 px on the GPU with the GPU's utilisation.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_embed.py --n-toy 1024 --n-vit-cpu 8

Images are rendered toy-synCUB birds (PNG files, so decoding is counted end to end). "model" figures time
the encoder alone on already preprocessed tensors; "end-to-end" figures include decoding, preprocessing and
the DataLoader. Weights are random (speed does not depend on them).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

import kit.embed as ke


def model_rate(enc, n: int, batch: int, size: int) -> float:
    """Images/s of ``enc.encode_images`` on random float[batch, 3, size, size] tensors (after one warm-up)."""
    x = torch.randn(batch, 3, size, size)
    if torch.device(enc.device).type == "cuda":
        x = x.to(enc.device).contiguous()
    enc.encode_images(x)
    sync = torch.cuda.synchronize if torch.device(enc.device).type == "cuda" else (lambda: None)
    sync()
    t = time.perf_counter()
    done = 0
    while done < n:
        enc.encode_images(x)
        done += batch
    sync()
    return done / (time.perf_counter() - t)


def e2e_rate(images, enc, batch: int, workers: int) -> float:
    ke.embed_images(images[:batch], enc, batch_size=batch, num_workers=workers, progress=False, device=enc.device)
    t = time.perf_counter()
    ke.embed_images(images, enc, batch_size=batch, num_workers=workers, progress=False, device=enc.device)
    return len(images) / (time.perf_counter() - t)


class GpuSampler:
    """Samples GPU utilisation (%) every 0.2 s with nvidia-smi while the block runs."""

    def __enter__(self):
        self.samples, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                      "-i", str(torch.cuda.current_device())], capture_output=True, text=True,
                                     timeout=5)
                self.samples.append(float(out.stdout.strip().splitlines()[0]))
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                pass
            time.sleep(0.2)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float:
        return float(np.mean(self.samples)) if self.samples else float("nan")


def cache_rates(n: int, dim: int) -> tuple[float, float]:
    """Seconds to write one embedding-cache shard of float32[n, dim] and to read it back."""
    from kit.embed.cache import open_entry

    X = np.random.default_rng(0).standard_normal((n, dim), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        entry = open_entry(tmp, {"encoder": "bench"}, n, dim, shard_size=n)
        t = time.perf_counter()
        entry.write_shard(0, X)
        t_write = time.perf_counter() - t
        t = time.perf_counter()
        assert np.array_equal(entry.load(), X)
        return t_write, time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-toy", type=int, default=1024, help="toy images to embed on the CPU")
    p.add_argument("--n-vit-cpu", type=int, default=8, help="images for the ViT-L/14 CPU timing (0: skip)")
    p.add_argument("--n-gpu", type=int, default=8192, help="images for the GPU timings")
    p.add_argument("--gpu-batch", type=int, default=512)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers for the end-to-end timings")
    p.add_argument("--shard-rows", type=int, default=32768, help="rows of the cache shard timing (d = 768)")
    args = p.parse_args()
    from kit.data import load_toy_images, render_toy_syncub

    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, CUDA: {torch.cuda.is_available()}")
    t_write, t_read = cache_rates(args.shard_rows, 768)
    print(f"embedding cache, one shard of {args.shard_rows:,} x 768: write {t_write:.2f} s, read {t_read:.2f} s "
          f"({args.shard_rows * 768 * 4 / 2**20:.0f} MiB)")
    with tempfile.TemporaryDirectory() as tmp:
        n_img = max(args.n_toy, args.n_gpu if torch.cuda.is_available() else 0)
        images = load_toy_images(render_toy_syncub(Path(tmp) / "b", n_pairs=1, n_images=n_img, seed=0)).images
        toy = ke.load_encoder("toy", device="cpu")
        print(f"toy (CPU): model {model_rate(toy, args.n_toy, 256, toy.module.config.image_size):,.0f} img/s; "
              f"end-to-end {e2e_rate(images[:args.n_toy], toy, 256, 0):,.0f} img/s (0 workers), "
              f"{e2e_rate(images[:args.n_toy], toy, 256, args.workers):,.0f} img/s ({args.workers} workers)")
        if args.n_vit_cpu:
            vit = ke.load_encoder("open_clip:ViT-L-14/random", device="cpu")
            rate = model_rate(vit, args.n_vit_cpu, min(8, args.n_vit_cpu), 224)
            print(f"ViT-L/14 224 px (CPU, fp32): model {rate:.2f} img/s")
        if torch.cuda.is_available():
            vit = ke.load_encoder("open_clip:ViT-L-14/random", device="cuda")
            with GpuSampler() as g:
                rate = model_rate(vit, args.n_gpu, args.gpu_batch, 224)
            print(f"ViT-L/14 224 px ({torch.cuda.get_device_name()}, autocast): model {rate:,.0f} img/s, "
                  f"GPU utilisation {g.mean:.0f}%")
            with GpuSampler() as g:
                rate = e2e_rate(images[:args.n_gpu], vit, args.gpu_batch, args.workers)
            print(f"ViT-L/14 224 px end-to-end ({args.workers} workers): {rate:,.0f} img/s, "
                  f"GPU utilisation {g.mean:.0f}%")
            toy_gpu = ke.load_encoder("toy", device="cuda")
            rate = model_rate(toy_gpu, args.n_gpu, 1024, toy_gpu.module.config.image_size)
            print(f"toy (GPU): model {rate:,.0f} img/s")


if __name__ == "__main__":
    main()
