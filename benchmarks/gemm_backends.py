"""One-off micro-benchmark: fp32 GEMM paths available to torch on this CPU (and bf16 for scale).

Times the paper's hidden-layer product (256x512 @ 512x512, 2 threads by default) through MKL
(``F.linear``, torch's default), oneDNN (``torch.ops.mkldnn._linear_pointwise``), the batched
critic form (``baddbmm`` over 2 members) and numpy's BLAS, interleaved over rounds; prints
GFLOP/s (max and median) so the fastest exact fp32 path can be chosen for a machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rows", type=int, default=256)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--rounds", type=int, default=20)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    n, h = a.rows, a.hidden
    x, w, b = torch.randn(n, h), torch.randn(h, h), torch.randn(h)
    x2, w2, b2 = torch.randn(2, n, h), torch.randn(2, h, h), torch.randn(2, 1, h)
    xn, wn = x.numpy(), w.t().contiguous().numpy()
    xb, wb, bb = x.bfloat16(), w.bfloat16(), b.bfloat16()
    flop = 2 * n * h * h
    paths = {
        "MKL F.linear (torch default, fp32)": (lambda: F.linear(x, w, b), flop),
        "oneDNN _linear_pointwise (fp32)": (
            lambda: torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], ""),
            flop,
        ),
        "baddbmm, 2 critic members (fp32)": (lambda: torch.baddbmm(b2, x2, w2), 2 * flop),
        "numpy BLAS matmul (fp32)": (lambda: xn @ wn, flop),
        "bf16 F.linear (not exact)": (lambda: F.linear(xb, wb, bb), flop),
    }
    ref = F.linear(x, w, b)
    err = (torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "") - ref).abs().max()
    rates: dict[str, list[float]] = {k: [] for k in paths}
    for f, _ in paths.values():
        f()
    for _ in range(a.rounds):
        for k, (f, fl) in paths.items():
            t = time.perf_counter()
            for _ in range(10):
                f()
            rates[k].append(10 * fl / (time.perf_counter() - t) / 1e9)
    print(
        f"{n}x{h} @ {h}x{h}, {a.threads} threads, {a.rounds} rounds; oneDNN-MKL max |diff| {err:.1e}"
    )
    for k, v in rates.items():
        print(f"{k:40s} GFLOP/s max {max(v):7.0f}  median {statistics.median(v):7.0f}")
    print(
        f"numpy: {np.__version__}, torch: {torch.__version__}, MKL: {torch.backends.mkl.is_available()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
