"""Numeric precision: 'auto' resolved to what the hardware runs natively.

bfloat16 autocast is only faster where the hardware computes in bfloat16 (on x86
CPUs the ``avx512_bf16`` or ``amx_bf16`` instructions); elsewhere PyTorch emulates it
and is slower than float32. ``benchmarks/train_step.py`` and
``benchmarks/predict_throughput.py`` measure the gain.
"""

from functools import cache
from pathlib import Path
from typing import Literal, get_args

#: CPU flags (as in ``/proc/cpuinfo``) of native bfloat16 arithmetic.
BF16_CPU_FLAGS = frozenset({'avx512_bf16', 'amx_bf16'})
#: Training precision of a task: 'auto' is 'bf16-mixed' on CPUs with native
#: bfloat16 and '32' elsewhere (CUDA included: not measured there).
TrainPrecision = Literal['auto', '32', 'bf16-mixed']
TRAIN_PRECISIONS: tuple[str, ...] = get_args(TrainPrecision)


@cache
def cpu_flags(cpuinfo: Path = Path('/proc/cpuinfo')) -> frozenset[str]:
    """The instruction-set flags of the CPU.

    Args:
        cpuinfo: Linux's CPU description.

    Returns:
        The flags of the first processor; empty where the file is absent or
        unreadable (not Linux), which makes 'auto' choose float32.
    """
    try:
        text = cpuinfo.read_text(errors='replace')
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(':')
        if key.strip() == 'flags':
            return frozenset(value.split())
    return frozenset()


def cpu_has_native_bf16() -> bool:
    """Whether the CPU computes in bfloat16 natively.

    Returns:
        True where one of :data:`BF16_CPU_FLAGS` is present.
    """
    return bool(BF16_CPU_FLAGS & cpu_flags())


def resolve_train_precision(precision: str, device_type: str) -> str:
    """The training precision on a device type, 'auto' resolved.

    Args:
        precision: One of :data:`TRAIN_PRECISIONS`.
        device_type: 'cpu', 'cuda' or 'mps'.

    Returns:
        '32' or 'bf16-mixed'.

    Raises:
        ValueError: If ``precision`` is not one of :data:`TRAIN_PRECISIONS`.
    """
    if precision not in TRAIN_PRECISIONS:
        msg = f'precision {precision!r}: must be one of {", ".join(TRAIN_PRECISIONS)}'
        raise ValueError(msg)
    if precision != 'auto':
        return precision
    return 'bf16-mixed' if device_type == 'cpu' and cpu_has_native_bf16() else '32'


def describe_cpu(cpuinfo: Path = Path('/proc/cpuinfo')) -> str:
    """One line naming the CPU and the flags the precision choice depends on.

    Args:
        cpuinfo: Linux's CPU description.

    Returns:
        e.g. ``'AMD EPYC (torch AVX512): avx512_bf16 yes, amx_bf16 no'``.
    """
    import torch

    model = 'unknown CPU'
    try:
        for line in cpuinfo.read_text(errors='replace').splitlines():
            key, _, value = line.partition(':')
            if key.strip() == 'model name':
                model = value.strip()
                break
    except OSError:
        pass
    flags = cpu_flags(cpuinfo)
    have = ', '.join(
        f'{f} {"yes" if f in flags else "no"}' for f in sorted(BF16_CPU_FLAGS)
    )
    return f'{model} (torch {torch.backends.cpu.get_cpu_capability()}): {have}'
