"""Figures of multi-sensor samples: the ``plot`` of every geokd dataset.

Each sensor gets one panel: a true-colour composite where the red, green and blue
bands are named (Sentinel-2 B04, B03, B02), a false-colour composite of VV, VH and
their mean for dual-polarisation SAR (as torchgeo's Copernicus-Bench datasets show it),
the channels as they are for an unnamed 3-channel image (an RGB camera), and the first
band in grey otherwise (depth, thermal, a single polarisation). Every panel is
stretched to its 2nd..98th percentile, so raw and normalised samples both display.
"""

from collections.abc import Mapping, Sequence
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor
from torchgeo.datasets.utils import Sample, quantile_normalization

#: Sentinel-2 bands of a true-colour composite: red, green, blue.
RGB_BANDS = ('B04', 'B03', 'B02')

#: Polarisations of a SAR false-colour composite.
SAR_BANDS = ('VV', 'VH')


def _short(name: str) -> str:
    """A band name without its sensor prefix: 'S2_B04' -> 'B04'."""
    return name.upper().rsplit('_', 1)[-1]


def display_image(
    image: Tensor, band_names: Sequence[str] = ()
) -> tuple[np.ndarray, str]:
    """A displayable picture of one sensor's image.

    Args:
        image: ``(C, H, W)`` image, raw or normalised.
        band_names: Names of its ``C`` bands; empty if unknown.

    Returns:
        ``(H, W, 3)`` or ``(H, W)`` values in [0, 1], and the bands it shows.
    """
    image = image.detach().float().cpu()
    names = [_short(b) for b in band_names]
    if all(b in names for b in RGB_BANDS):
        picked = [names.index(b) for b in RGB_BANDS]
        shown = quantile_normalization(image[picked])
        label = ', '.join(band_names[i] for i in picked)
    elif all(b in names for b in SAR_BANDS):
        vv, vh = (image[names.index(b)] for b in SAR_BANDS)
        # Each channel on its own stretch: VH is several dB darker than VV.
        shown = torch.stack(
            [quantile_normalization(x) for x in (vv, vh, (vv + vh) / 2)]
        )
        label = 'VV, VH, mean'
    elif not names and image.shape[0] == 3:
        shown = quantile_normalization(image)
        label = 'RGB'
    else:
        shown = quantile_normalization(image[0])
        label = band_names[0] if band_names else 'band 1'
    if shown.ndim == 3:
        shown = shown.permute(1, 2, 0)
    return shown.numpy(), label


def _class_name(value: Tensor | int, classes: Sequence[str]) -> str:
    index = int(value)
    return classes[index] if 0 <= index < len(classes) else str(index)


def _title(sample: Sample, modality: str, shown: str, classes: Sequence[str]) -> str:
    lines = [f'{modality} ({shown})']
    label = sample.get('label', sample.get(f'label_{modality}'))
    if label is not None:
        lines.append(f'Label: {_class_name(label, classes)}')
    prediction = sample.get(f'prediction_{modality}', sample.get('prediction'))
    if prediction is not None:
        lines.append(f'Prediction: {_class_name(prediction, classes)}')
    return '\n'.join(lines)


def plot_sample(
    sample: Sample,
    classes: Sequence[str],
    band_names: Mapping[str, Sequence[str]] | None = None,
    show_titles: bool = True,
    suptitle: str | None = None,
) -> Figure:
    """Plot every sensor of a sample, with its label and prediction if present.

    Args:
        sample: ``image_<modality>`` tensors ``(C, H, W)``, ``label`` (or
            ``label_<modality>``), optionally ``prediction`` or
            ``prediction_<modality>`` (class indices).
        classes: Class names, by index.
        band_names: Band names per modality, in the images' order.
        show_titles: Title each panel with its sensor, label and prediction.
        suptitle: Title of the whole figure.

    Returns:
        A figure with one panel per sensor.

    Raises:
        ValueError: If the sample has no image.
    """
    modalities = [k.removeprefix('image_') for k in sample if k.startswith('image_')]
    if not modalities:
        msg = f'the sample has no image_<modality> key, only {sorted(sample)}'
        raise ValueError(msg)
    fig, axes = plt.subplots(
        1, len(modalities), figsize=(4 * len(modalities), 4.5), squeeze=False
    )
    for ax, m in zip(axes[0], modalities, strict=True):
        picture, shown = display_image(
            sample[f'image_{m}'], (band_names or {}).get(m, ())
        )
        ax.imshow(picture, cmap='gray', vmin=0, vmax=1, interpolation='nearest')
        ax.axis('off')
        if show_titles:
            ax.set_title(_title(sample, m, shown, classes))
    if suptitle is not None:
        fig.suptitle(suptitle)
    return fig


class PlotMixin:
    """torchgeo's ``plot(sample, show_titles, suptitle)`` for a multi-sensor dataset.

    The dataset provides ``classes`` and ``bands`` (band names per modality, in the
    order of its samples; a modality may be left out when its bands are unnamed).
    """

    classes: Sequence[str]
    bands: Mapping[str, Sequence[str]]
    #: Display names of bands, for sensors whose names do not say what they hold.
    plot_aliases: ClassVar[dict[str, str]] = {}

    def plot(
        self, sample: Sample, show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Plot a sample: every sensor, its label and, if present, the prediction.

        Args:
            sample: A sample returned by ``__getitem__``, optionally with
                ``prediction`` or ``prediction_<modality>``.
            show_titles: Flag indicating whether to show titles above each panel.
            suptitle: Optional string to use as a suptitle.

        Returns:
            A matplotlib Figure with the rendered sample.
        """
        names = {
            m: [self.plot_aliases.get(b, b) for b in bands]
            for m, bands in self.bands.items()
        }
        return plot_sample(sample, self.classes, names, show_titles, suptitle)
