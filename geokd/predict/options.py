"""What :func:`~geokd.predict.predict_scene` is asked to do, checked before any work.

Standard library only: the command line builds and checks these before importing
torch.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import OptionError

#: Devices geokd classifies on: the CPU, CUDA (its first or Nth GPU), Apple's MPS.
DEVICE = re.compile(r'auto|cpu|cuda(:\d{1,3})?|mps')
#: Numeric precisions, named as Lightning's ``trainer.precision``: 'auto' is
#: '16-mixed' (float16 autocast) on CUDA and '32' elsewhere. bfloat16 on a CPU with
#: native bfloat16 is faster but missed the bar of 99.5 % of class-map cells equal to
#: float32's on a real scene (benchmarks/precision_agreement.py), so it stays opt-in.
PRECISIONS = ('auto', '32', '16-mixed', 'bf16-mixed')
#: Upper bounds: a pixel size beyond these is a typo or a hostile value, and would
#: ask for absurd allocations (a window's pixels are read at once).
MAX_PATCH = 4096
MAX_WINDOW = 16384
#: How patches are evaluated (see :attr:`PredictOptions.evaluation`).
EVALUATIONS = ('patch', 'dense')


@dataclass
class PredictOptions:
    """Options of :func:`~geokd.predict.predict_scene`.

    Attributes:
        patch_size: Patch size in pixels; None takes the model's.
        stride: Distance between patches in pixels, dividing the patch size; None
            takes the patch size (no overlap). Overlapping patches' probabilities
            are averaged per output cell.
        batch_size: Patches per forward pass.
        device: 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'.
        precision: One of :data:`PRECISIONS`: full float32, or float16/bfloat16
            autocast of the forward passes.
        bands: The scene's bands to feed the model, in the model's order: 1-based
            indexes or band names; None matches names or takes them in file order.
        min_valid: Minimum fraction of valid pixels for a patch to be classified.
        probabilities: Also write every class probability.
        polygons: Also write the class map's polygons as a GeoPackage.
        resume: Continue an interrupted run of the same scene, model and options.
        overwrite: Replace existing outputs, once the new ones are complete.
        quiet: No progress bar or messages.
        window: Approximate window side in pixels (memory use grows with its square).
        evaluation: 'patch' (every patch classified alone, probabilities averaged
            per cell) or 'dense' (the trunk run once per window, the head applied on a
            patch-sized box centred on every cell; see
            :mod:`~geokd.predict.engine.dense`).
    """

    patch_size: int | None = None
    stride: int | None = None
    batch_size: int = 64
    device: str = 'cpu'
    precision: str = 'auto'
    bands: Sequence[str | int] | None = None
    min_valid: float = 0.5
    probabilities: bool = False
    polygons: bool = False
    resume: bool = False
    overwrite: bool = False
    quiet: bool = False
    window: int = 1024
    evaluation: str = 'patch'

    def check(self) -> None:
        """Check every option's type and range, before any work is done.

        Raises:
            OptionError: Naming the first option out of range, as on the command
                line (``--batch-size 0: ...``).
        """
        _check_int('--batch-size', self.batch_size, 1, None)
        _check_int('--window', self.window, 1, MAX_WINDOW)
        if self.patch_size is not None:
            _check_int('--patch-size', self.patch_size, 1, MAX_PATCH)
        if self.stride is not None:
            _check_int('--stride', self.stride, 1, MAX_PATCH)
        if not (isinstance(self.min_valid, int | float) and 0 <= self.min_valid <= 1):
            msg = f'--min-valid {self.min_valid}: must be a fraction in [0, 1]'
            raise OptionError(msg)
        check_device(self.device)
        if self.evaluation not in EVALUATIONS:
            msg = f'--evaluation {self.evaluation!r}: must be one of {", ".join(EVALUATIONS)}'
            raise OptionError(msg)
        if self.precision not in PRECISIONS:
            msg = f'--precision {self.precision!r}: must be one of {", ".join(PRECISIONS)}'
            raise OptionError(msg)

    def check_for(self, kind: str, tile_unit: int = 1) -> None:
        """Refuse options that make no sense for the model's kind.

        A segmenter gives every pixel its class, from tiles of its patch size
        overlapping by half: there are no cells to choose the size of (``--stride``)
        and no dense evaluation of patches (``--evaluation dense``), and its encoder
        takes tiles of a multiple of ``2 ** encoder_depth`` pixels only.

        Args:
            kind: 'classifier' or 'segmenter'.
            tile_unit: A segmenter's tiles must be multiples of this (pixels).

        Raises:
            OptionError: Naming the option a segmenter does not take.
        """
        if kind != 'segmenter':
            return
        if self.patch_size is not None and self.patch_size % tile_unit:
            msg = (
                f'--patch-size {self.patch_size}: this segmenter takes tiles of a '
                f'multiple of {tile_unit} pixels'
            )
            raise OptionError(msg)
        if self.stride is not None:
            msg = (
                f'--stride {self.stride}: a segmenter gives a class per pixel (its '
                'tiles overlap by half); leave --stride out'
            )
            raise OptionError(msg)
        if self.evaluation != 'patch':
            msg = (
                f'--evaluation {self.evaluation}: a segmenter gives a class per pixel; '
                'leave --evaluation out'
            )
            raise OptionError(msg)

    def resolved_precision(self, device_type: str) -> str:
        """The precision on a device type, 'auto' resolved.

        Args:
            device_type: 'cpu', 'cuda' or 'mps'.

        Returns:
            '32', '16-mixed' or 'bf16-mixed'.
        """
        if self.precision != 'auto':
            return self.precision
        return '16-mixed' if device_type == 'cuda' else '32'


def check_device(name: object) -> None:
    """Refuse a device name geokd does not classify on.

    Args:
        name: The ``--device`` value.

    Raises:
        OptionError: If it is not 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'.
    """
    if not (isinstance(name, str) and DEVICE.fullmatch(name)):
        msg = (
            f'--device {name!r}: unknown device '
            "(use 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto')"
        )
        raise OptionError(msg)


def _check_int(name: str, value: object, low: int, high: int | None) -> None:
    """Refuse a value that is not an integer in ``[low, high]``."""
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= low
        and (high is None or value <= high)
    ):
        return
    bound = f'an integer >= {low}' if high is None else f'an integer in [{low}, {high}]'
    msg = f'{name} {value}: must be {bound}'
    raise OptionError(msg)
