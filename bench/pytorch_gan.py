"""This project's Trainer against the most-copied simplified AAE loop, PyTorch-GAN's `implementations/aae/aae.py`,
at that loop's architecture and batch: samples/s of each, timed in alternating windows in one process.

    flock /tmp/aae-cpu.lock python -m bench.pytorch_gan --out bench/results/pytorch_gan.json

PyTorch-GAN's loop is rebuilt here from its published structure (no code copied), on mnist5k's 4,000 training
images at 28 x 28 (its default img_size is 32; 28 gives the issue's 784-512-512-10):
  * encoder 784-512 LeakyReLU(0.2), 512-512 BatchNorm LeakyReLU, then two 512-10 heads (mu, logvar) and a
    reparameterised sample drawn with numpy; decoder 10-512-512-784 (BatchNorm after the second layer) with a
    tanh; discriminator 10-512-256-1 with a sigmoid, no BatchNorm;
  * one joint generator loss 0.001 * BCE(D(z), 1) + 0.999 * L1(x', x) through encoder and decoder, then the
    discriminator on numpy N(0, I) samples against the detached codes, 0.5 * (real + fake): two backward passes;
  * torch's default Adam (lr 2e-4, betas 0.5, 0.999) for encoder + decoder and for the discriminator;
  * a per-sample DataLoader (batch 64, shuffle, no workers) whose dataset turns one uint8 image at a time into a
    tensor and normalises it to [-1, 1] (ToTensor + Normalize; PIL decoding and Resize are left out, which can
    only make this rebuild faster than the original);
  * both losses read as Python floats each step, as its progress line does (the print itself is left out).
The Trainer runs the paper's three phases at the same widths (512-512, discriminator 512-256), code size 10 and
batch 64. Each round times one window of each loop, in alternating order; a loop's figure is its best window,
and the ratio's spread is over the rounds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from aae_core.bench import bench_config
from aae_core.data import load_dataset
from aae_core.timing import cpu_name, step_flops
from aae_core.training import Trainer

LATENT, BATCH, HIDDEN, DISC_HIDDEN = 10, 64, (512, 512), (512, 256)


class PixelDataset(torch.utils.data.Dataset):
    """One image at a time, as torchvision's MNIST with ToTensor and Normalize(0.5, 0.5) hands them out."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x = torch.from_numpy(self.images[i]).unsqueeze(0).float().div(255)
        return (x - 0.5) / 0.5, int(self.labels[i])


def leaky() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class SimplifiedAAE:
    """PyTorch-GAN's AAE: its networks, losses, optimizers and step (see the module docstring)."""

    def __init__(self, n_pixels: int):
        self.trunk = nn.Sequential(nn.Linear(n_pixels, 512), leaky(), nn.Linear(512, 512), nn.BatchNorm1d(512), leaky())
        self.mu, self.logvar = nn.Linear(512, LATENT), nn.Linear(512, LATENT)
        self.decoder = nn.Sequential(
            nn.Linear(LATENT, 512), leaky(), nn.Linear(512, 512), nn.BatchNorm1d(512), leaky(),
            nn.Linear(512, n_pixels), nn.Tanh(),
        )  # fmt: skip
        self.disc = nn.Sequential(
            nn.Linear(LATENT, 512), leaky(), nn.Linear(512, 256), leaky(), nn.Linear(256, 1), nn.Sigmoid()
        )
        enc = [*self.trunk.parameters(), *self.mu.parameters(), *self.logvar.parameters()]
        self.opt_g = torch.optim.Adam(itertools.chain(enc, self.decoder.parameters()), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.bce, self.l1 = nn.BCELoss(), nn.L1Loss()

    def encode(self, flat: torch.Tensor) -> torch.Tensor:
        h = self.trunk(flat)
        mu, logvar = self.mu(h), self.logvar(h)
        noise = torch.tensor(np.random.normal(0, 1, (mu.shape[0], LATENT)), dtype=torch.float32)
        return noise * torch.exp(logvar / 2) + mu

    def step(self, imgs: torch.Tensor) -> tuple[float, float]:
        valid, fake = torch.ones(imgs.shape[0], 1), torch.zeros(imgs.shape[0], 1)
        self.opt_g.zero_grad()
        z = self.encode(imgs.view(imgs.shape[0], -1))
        decoded = self.decoder(z).view(imgs.shape)
        g_loss = 0.001 * self.bce(self.disc(z), valid) + 0.999 * self.l1(decoded, imgs)
        g_loss.backward()
        self.opt_g.step()
        self.opt_d.zero_grad()
        prior = torch.tensor(np.random.normal(0, 1, (imgs.shape[0], LATENT)), dtype=torch.float32)
        d_loss = 0.5 * (self.bce(self.disc(prior), valid) + self.bce(self.disc(z.detach()), fake))
        d_loss.backward()
        self.opt_d.step()
        return d_loss.item(), g_loss.item()


def batches(loader: torch.utils.data.DataLoader) -> Iterator[torch.Tensor]:
    """The loader's batches, epoch after epoch (a new shuffled pass each time, as its epoch loop makes)."""
    while True:
        for imgs, _ in loader:
            yield imgs


def window(fn: Callable[[], object], calls: int) -> float:
    """Seconds per call over `calls` calls."""
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t) / calls


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--window-s", type=float, default=1.0)
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--out", help="write the JSON here")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    np.random.seed(0)
    data = load_dataset("mnist5k")
    assert data.y_train is not None, "mnist5k has labels"
    images = (data.x_train * 255).round().to(torch.uint8).view(-1, *data.image_shape).numpy()
    loader = torch.utils.data.DataLoader(PixelDataset(images, data.y_train.numpy()), batch_size=BATCH, shuffle=True)
    gan = SimplifiedAAE(data.input_dim)
    stream = batches(loader)
    config = bench_config("aae", (HIDDEN, DISC_HIDDEN), LATENT, BATCH, data)
    trainer = Trainer(config, data, publish_every_s=math.inf)
    counter = FlopCounterMode(display=False)
    with counter:
        gan.step(next(stream))
    loops: dict[str, Callable[[], object]] = {"pytorch_gan": lambda: gan.step(next(stream)), "trainer": trainer.step}
    flops = {"pytorch_gan": counter.get_total_flops(), "trainer": step_flops(trainer)}
    calls = {name: max(2, round(args.window_s / window(fn, 5))) for name, fn in loops.items()}
    seconds: dict[str, list[float]] = {name: [] for name in loops}
    for r in range(args.rounds):
        for name in loops if r % 2 == 0 else reversed(list(loops)):
            seconds[name].append(window(loops[name], calls[name]))
    ratios = [g / t for g, t in zip(seconds["pytorch_gan"], seconds["trainer"])]
    result = {
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "load_avg_1min_at_end": round(os.getloadavg()[0], 2)},
        "architecture": {"layers": f"{data.input_dim}-512-512-{LATENT}", "disc_layers": f"{LATENT}-512-256-1",
                         "batch_size": BATCH},
        "timing": f"{args.rounds} rounds, one window of ~{args.window_s} s per loop each, alternating order",
        "loops": {
            name: {
                "samples_per_s_best": round(BATCH / min(s), 1),
                "samples_per_s_median": round(BATCH / statistics.median(s), 1),
                "gflop_per_step": round(flops[name] / 1e9, 4),
            }
            for name, s in seconds.items()
        },
        "trainer_over_pytorch_gan": {
            "best_windows": round(min(seconds["pytorch_gan"]) / min(seconds["trainer"]), 3),
            "per_round_median": round(statistics.median(ratios), 3),
            "per_round_min": round(min(ratios), 3),
            "per_round_max": round(max(ratios), 3),
        },
    }  # fmt: skip
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
