"""Trains a small MLP with the Trainer; run alone or under torchrun. Writes the final weights to --out (rank 0)."""
import argparse
import os

import torch
import torch.nn as nn

from edgeinfer_distill.trainer import TrainConfig, Trainer, distributed_env


class Objective(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))

    def forward(self, batch):
        return nn.functional.cross_entropy(self.net(batch["x"]), batch["y"]), {}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(96, 8, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    model = Objective()
    cfg = TrainConfig(epochs=3, batch_size=16, lr=0.01, warmup=2, grad_clip=1.0, seed=3, device="cpu")
    Trainer(model, cfg, lambda m, b: m(b), {"x": x, "y": y}).fit()
    rank, world, _ = distributed_env()
    if rank == 0:
        torch.save({"state": model.state_dict(), "world": world}, a.out)
    if world > 1:
        # Both ranks past the save before gloo is torn down: a rank destroying the group while its peer still uses
        # it aborts the process ("terminate called without an active exception", 1 run in ~5 here).
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
