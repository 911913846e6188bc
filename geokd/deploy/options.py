"""What :func:`~geokd.deploy.predict_scene` is asked to do, and the error it raises.

Standard library only: the command line builds these before importing torch.
"""

from collections.abc import Sequence
from dataclasses import dataclass


class PredictError(ValueError):
    """A scene cannot be classified; the message names the file and the problem."""


@dataclass
class PredictOptions:
    """Options of :func:`~geokd.deploy.predict_scene`.

    Attributes:
        patch_size: Patch size in pixels; None takes the model's.
        stride: Distance between patches in pixels, dividing the patch size; None
            takes the patch size (no overlap). Overlapping patches' probabilities
            are averaged per output cell.
        batch_size: Patches per forward pass.
        device: 'cpu', 'cuda', 'cuda:N' or 'auto'.
        amp: Mixed precision (float16 autocast) on CUDA.
        bands: The scene's bands to feed the model, in the model's order: 1-based
            indexes or band names; None matches names or takes them in file order.
        min_valid: Minimum fraction of valid pixels for a patch to be classified.
        probabilities: Also write every class probability.
        polygons: Also write the class map's polygons as a GeoPackage.
        resume: Continue an interrupted run of the same scene, model and options.
        overwrite: Replace existing finished outputs.
        quiet: No progress bar or messages.
        window: Approximate window side in pixels (memory use grows with its square).
    """

    patch_size: int | None = None
    stride: int | None = None
    batch_size: int = 64
    device: str = 'cpu'
    amp: bool = True
    bands: Sequence[str | int] | None = None
    min_valid: float = 0.5
    probabilities: bool = False
    polygons: bool = False
    resume: bool = False
    overwrite: bool = False
    quiet: bool = False
    window: int = 1024
