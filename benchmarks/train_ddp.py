"""DisCoM-KD training throughput on 2 DDP processes (gloo) against 1 process, same batch.

Both sides train the same network (two modalities, 13 and 2 channels, unpaired
batches of ``--batch-size`` samples per modality per step) from identical weights,
with the task's losses and Adam, on in-memory batches (data loading excluded):

* 1 process with all the cores' threads and the whole batch;
* 2 processes (``torch.distributed`` with gloo, ``DistributedDataParallel`` as
  Lightning's ``ddp`` strategy wraps the model), each with half the threads and half
  the batch, gradients averaged by DDP's all-reduce after every backward pass.

The all-reduce share of the 2-process step is measured in the same processes, two
ways: steps alternate between DDP's normal step and one inside ``no_sync()`` (no
gradient all-reduce), the exposed share being 1 - median(no_sync step) / median(step)
(DDP overlaps its bucketed all-reduce with the backward pass; the waits for the slower
process count in); and an all-reduce of the gradients' volume alone is timed between
steps, its median over the median step being the share without overlap. Rounds alternate
between the two set-ups so that machine noise hits both alike; the ratio of samples/s
and the load average before and after are printed. On a shared 2-core CPU the
figures say how much DDP costs or gains there, not what GPUs would do.

    .venv/bin/python benchmarks/train_ddp.py [--steps 10] [--rounds 3]
        [--backbone resnet18] [--size 64] [--batch-size 32]
"""

import argparse
import contextlib
import os
import socket
import statistics
import time
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from geokd import losses
from geokd.tasks import DisCoMKDTask

WARMUP = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def _batch(n: int, size: int, seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        'image_ms': torch.randn(n, 13, size, size, generator=gen),
        'image_sar': torch.randn(n, 2, size, size, generator=gen),
        'label_ms': torch.randint(0, 10, (n,), generator=gen),
        'label_sar': torch.randint(0, 10, (n,), generator=gen),
    }


def _worker(
    rank: int, world: int, port: int, args: argparse.Namespace, out: Any
) -> None:
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    torch.manual_seed(0)
    task = DisCoMKDTask({'ms': 13, 'sar': 2}, 10, backbone=args.backbone)
    model = task.model.train()
    ddp = DistributedDataParallel(model) if world > 1 else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    batch = _batch(args.batch_size // world, args.size, seed=rank)
    images, labels = task._unpack(batch)

    def step(sync: bool) -> float:
        start = time.perf_counter()
        skip = ddp.no_sync() if not sync else contextlib.nullcontext()
        with skip:
            terms = task._loss_terms(ddp(images), labels)
            loss = losses.discomkd_loss(terms, task.loss_weights)
            optimizer.zero_grad()
            loss.backward()
        optimizer.step()
        return time.perf_counter() - start

    for _ in range(WARMUP):
        step(True)
    times: dict[str, list[float]] = {'sync': [], 'no_sync': [], 'all_reduce': []}
    flat = torch.zeros(sum(p.numel() for p in model.parameters()))
    for _ in range(args.steps):
        times['sync'].append(step(True))
        if world > 1:
            times['no_sync'].append(step(False))
            # The gradients' volume all-reduced alone, not overlapped with backward.
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(flat)
            times['all_reduce'].append(time.perf_counter() - start)
    if rank == 0:
        out.put(times)
    dist.destroy_process_group()


def _run(world: int, args: argparse.Namespace) -> dict[str, list[float]]:
    ctx = mp.get_context('spawn')
    out = ctx.SimpleQueue()
    mp.start_processes(
        _worker,
        args=(world, _free_port(), args, out),
        nprocs=world,
        join=True,
        start_method='spawn',
    )
    return out.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=10, help='timed steps per round')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--backbone', default='resnet18')
    parser.add_argument('--size', type=int, default=64, help='patch size in pixels')
    parser.add_argument(
        '--batch-size', type=int, default=32, help='global batch per modality'
    )
    args = parser.parse_args()
    if args.batch_size % 2:
        parser.error('--batch-size must be even (split over 2 processes)')

    load_before = os.getloadavg()
    one: list[float] = []
    two: list[float] = []
    two_no_sync: list[float] = []
    all_reduce: list[float] = []
    for _ in range(args.rounds):
        one += _run(1, args)['sync']
        times = _run(2, args)
        two += times['sync']
        two_no_sync += times['no_sync']
        all_reduce += times['all_reduce']
    load_after = os.getloadavg()

    m1, m2, m2n, mar = (
        statistics.median(t) for t in (one, two, two_no_sync, all_reduce)
    )
    samples = 2 * args.batch_size  # per step: batch_size samples of each modality
    params = sum(
        p.numel()
        for p in DisCoMKDTask(
            {'ms': 13, 'sar': 2}, 10, backbone=args.backbone
        ).model.parameters()
    )
    print(
        f'torch {torch.__version__}, {os.cpu_count()} CPUs, backbone {args.backbone}, '
        f'{args.size}x{args.size} px, global batch {args.batch_size} per modality, '
        f'{params / 1e6:.1f} M parameters ({params * 4 / 2**20:.0f} MiB of gradients '
        'all-reduced per step)'
    )
    print(f'load average before: {" ".join(f"{x:.2f}" for x in load_before)}')
    print(f'load average after : {" ".join(f"{x:.2f}" for x in load_after)}')
    print(f'1 process             : {samples / m1:8.1f} samples/s  ({len(one)} steps)')
    print(f'2 processes (gloo DDP): {samples / m2:8.1f} samples/s  ({len(two)} steps)')
    print(f'ratio 2 / 1 processes : {m1 / m2:8.3f}')
    print(f'2 processes, no_sync  : {m2n * 1000:8.1f} ms/step vs {m2 * 1000:.1f} ms')
    print(
        f'all-reduce share      : {1 - m2n / m2:8.3f} of the 2-process step (exposed)'
    )
    print(
        f'all-reduce alone      : {mar * 1000:8.1f} ms = {mar / m2:.3f} of the '
        '2-process step (without overlap)'
    )


if __name__ == '__main__':
    main()
