"""OMBRIA as semantic segmentation: per-pixel flood masks of the same sub-patches."""

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from torchgeo.datasets.utils import Sample

from .ombria import BANDS, OMBRIA
from .utils import read_image

#: Pixel classes of the masks: Copernicus EMS flood extent or not.
PIXEL_CLASSES = ('not flooded', 'flooded')


class OMBRIASegmentation(OMBRIA):
    """OMBRIA flood pairs with the per-pixel flood mask of every sub-patch.

    The same tiles, splits (the published train/test split, whole training tiles
    held out for 'val'), sub-patches and images as :class:`~geokd.datasets.OMBRIA`,
    whose arguments it takes; the target is the Copernicus EMS flood mask of the
    sub-patch instead of its flooded-fraction class. Samples: ``image_<modality>``
    (raw 0..255 values, BEFORE channels appended if ``before``) and ``mask``
    ``(p, p)`` int64, 1 where flooded, 0 elsewhere.

    Args:
        *args: Positional arguments of :class:`~geokd.datasets.OMBRIA`.
        **kwargs: Keyword arguments of :class:`~geokd.datasets.OMBRIA` (``root``,
            ``split``, ``modalities``, ``before``, ``patch_size``, ...).
    """

    classes = PIXEL_CLASSES
    #: Mask value of unlabelled pixels; OMBRIA labels every pixel.
    ignore_index: ClassVar[int] = -1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Initialize a new OMBRIASegmentation instance."""
        super().__init__(*args, **kwargs)
        # The patch classes of the classification dataset are not this dataset's
        # targets (a sample's target is its mask); kept for stratifying.
        self.patch_targets = self.targets
        del self.targets

    def __getitem__(self, index: int) -> Sample:
        """Return one sub-patch and its flood mask.

        Args:
            index: Index of the sub-patch.

        Returns:
            ``image_<modality>`` per modality and ``mask``.
        """
        tile, r, c = self.items[index]
        p = self.patch_size
        rows, cols = slice(r * p, (r + 1) * p), slice(c * p, (c + 1) * p)
        sample: Sample = {
            f'image_{m}': self._image(m, tile, rows, cols) for m in self.modalities
        }
        mask, _ = read_image(self._path(self.modalities[0], 'mask', tile))
        sample['mask'] = (mask[0, rows, cols] > 0).long()
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def plot(
        self,
        sample: Sample,
        show_titles: bool = True,
        suptitle: str | None = None,
        modalities: Sequence[str] | None = None,
    ) -> Figure:
        """Plot each sensor's AFTER image, the mask and any prediction.

        Args:
            sample: A sample returned by ``__getitem__``, optionally with
                ``prediction`` (a ``(p, p)`` class map).
            show_titles: Flag indicating whether to show titles above each panel.
            suptitle: Optional string to use as a suptitle.
            modalities: Sensors to show; None shows every one of the sample.

        Returns:
            A matplotlib Figure with the rendered sample.
        """
        shown = [m for m in modalities or self.modalities if f'image_{m}' in sample]
        maps = [k for k in ('mask', 'prediction') if k in sample]
        fig, axes = plt.subplots(
            1, len(shown) + len(maps), figsize=(3 * (len(shown) + len(maps)), 3)
        )
        axes = list(axes) if len(shown) + len(maps) > 1 else [axes]
        for ax, m in zip(axes, shown, strict=False):
            image = sample[f'image_{m}'][: len(BANDS[m])].float()
            image = (image - image.min()) / (image.max() - image.min()).clamp(min=1e-6)
            ax.imshow(image.permute(1, 2, 0).squeeze(-1).numpy(), cmap='gray')
            if show_titles:
                ax.set_title(m)
        for ax, key in zip(axes[len(shown) :], maps, strict=True):
            ax.imshow(
                torch.as_tensor(sample[key]).numpy(), vmin=0, vmax=1, cmap='Blues'
            )
            if show_titles:
                ax.set_title(key)
        for ax in axes:
            ax.axis('off')
        if suptitle is not None:
            fig.suptitle(suptitle)
        return fig
