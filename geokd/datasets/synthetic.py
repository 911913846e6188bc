"""A SYNTHETIC paired multispectral / SAR scene-classification dataset.

Nothing here is real satellite data: it is a seeded simulator with the shapes of
EuroSat-MS-SAR, shipped so that geokd can be demonstrated and tested without a download.
"""

import math
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Generator, Tensor
from torchgeo.datasets import NonGeoDataset
from torchgeo.datasets.utils import Sample

from ..errors import DataError
from .eurosat_ms_sar import CLASSES as EUROSAT_CLASSES
from .plot import PlotMixin

#: Sentinel-2 bands in EuroSAT's file order (B8A last).
MS_BANDS = (
    'B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07',
    'B08', 'B09', 'B10', 'B11', 'B12', 'B8A',
)  # fmt: skip
SAR_BANDS = ('VV', 'VH')

# Surface materials ("endmembers") the scenes are mixed from. Reflectance in [0, 1]
# per MS_BANDS (top-of-atmosphere-like: B01 carries aerosol haze, B10 sees only
# cirrus and is near zero); backscatter (VV, VH) in dB at a mid-swath incidence angle.
_MATERIALS: dict[str, tuple[tuple[float, ...], tuple[float, float]]] = {
    # water: dark in NIR/SWIR, specular so dark in SAR
    'water': (
        (
            0.120,
            0.090,
            0.070,
            0.050,
            0.040,
            0.030,
            0.028,
            0.025,
            0.010,
            0.001,
            0.010,
            0.006,
            0.022,
        ),
        (-22.0, -28.0),
    ),
    # broadleaf/conifer canopy: red edge, strong volume scattering in VH
    'forest': (
        (
            0.110,
            0.080,
            0.070,
            0.040,
            0.085,
            0.200,
            0.260,
            0.280,
            0.085,
            0.002,
            0.130,
            0.060,
            0.290,
        ),
        (-8.0, -14.0),
    ),
    'grass': (
        (
            0.115,
            0.085,
            0.090,
            0.065,
            0.120,
            0.220,
            0.265,
            0.285,
            0.090,
            0.003,
            0.200,
            0.120,
            0.300,
        ),
        (-11.0, -18.0),
    ),
    'crop': (
        (
            0.115,
            0.085,
            0.095,
            0.060,
            0.115,
            0.250,
            0.320,
            0.340,
            0.100,
            0.003,
            0.190,
            0.100,
            0.350,
        ),
        (-10.5, -17.0),
    ),
    'soil': (
        (
            0.140,
            0.120,
            0.140,
            0.170,
            0.190,
            0.210,
            0.225,
            0.240,
            0.080,
            0.004,
            0.300,
            0.240,
            0.250,
        ),
        (-12.5, -20.0),
    ),
    # buildings: bright in VIS and SAR (double bounce)
    'urban': (
        (
            0.160,
            0.140,
            0.140,
            0.150,
            0.160,
            0.180,
            0.190,
            0.200,
            0.070,
            0.004,
            0.220,
            0.190,
            0.210,
        ),
        (-3.0, -10.0),
    ),
    'asphalt': (
        (
            0.130,
            0.100,
            0.100,
            0.100,
            0.110,
            0.120,
            0.125,
            0.130,
            0.050,
            0.003,
            0.140,
            0.120,
            0.135,
        ),
        (-16.0, -24.0),
    ),
    'roof': (
        (
            0.200,
            0.190,
            0.200,
            0.210,
            0.220,
            0.230,
            0.240,
            0.250,
            0.090,
            0.005,
            0.280,
            0.250,
            0.255,
        ),
        (-2.0, -9.0),
    ),
}
_NAMES = tuple(_MATERIALS)
_REFLECTANCE = torch.tensor([_MATERIALS[m][0] for m in _NAMES])  # (E, 13)
_SIGMA0 = 10 ** (torch.tensor([_MATERIALS[m][1] for m in _NAMES]) / 10)  # (E, 2)


class SyntheticMSSAR(PlotMixin, NonGeoDataset):
    """SYNTHETIC co-registered Sentinel-2-like / Sentinel-1-like patches.

    Each sample is a 64x64 (by default) scene of one of EuroSAT's ten land-cover
    classes, seen by both sensors. Assumptions of the simulator:

    * A scene is a per-pixel mixture of eight materials (water, forest, grass, crop,
      soil, urban, asphalt, roof) whose layout depends on the class: field stripes
      (AnnualCrop), tree dots on soil (PermanentCrop), a straight asphalt band
      (Highway), a meandering water band (River), building blocks (Industrial,
      Residential), open water (SeaLake) and textured canopy or grass (Forest,
      Pasture, HerbaceousVegetation). Orientation, widths and proportions are random.
    * Multispectral: linear mixing of the materials' reflectance in the 13 Sentinel-2
      bands (EuroSAT order, B8A last), a per-scene illumination gain, low-frequency
      texture, per-band sensor noise, then scaled to digital numbers 0..10000 (L1C
      style, uint16 range, returned as float32).
    * SAR: linear mixing of the materials' backscatter sigma0 (VV, VH), a
      per-scene incidence-angle gain, a coarser resolution than MS (the mixture is
      blurred), multiplicative gamma speckle with ``looks`` looks and a noise floor,
      returned in dB. The vegetated classes have close backscatter, so the SAR view
      is deliberately less separable than the MS view.

    Samples are generated on the fly from ``(seed, split, index)``, so the dataset
    is deterministic and takes no disk space. Splits are stratified:
    ``samples_per_class`` is divided 70/10/20 into train/val/test.

    This is a demo and test fixture, not a benchmark: results on it say nothing
    about real sensors.
    """

    #: EuroSAT's ten classes, in the same order as :class:`EuroSATMSSAR`.
    classes: tuple[str, ...] = EUROSAT_CLASSES
    all_band_names: ClassVar[dict[str, tuple[str, ...]]] = {
        'ms': MS_BANDS,
        'sar': SAR_BANDS,
    }
    #: Band names per modality: always all of them.
    bands = all_band_names
    #: Ground sample distance of the patches, metres: simulated as Sentinel's 10 m.
    gsd: ClassVar[float] = 10.0
    #: Simulated data: models trained on it label real scenes with made-up classes.
    synthetic: ClassVar[bool] = True
    split_fractions: ClassVar[dict[str, float]] = {
        'train': 0.7,
        'val': 0.1,
        'test': 0.2,
    }

    def __init__(
        self,
        split: Literal['train', 'val', 'test'] = 'train',
        samples_per_class: int = 100,
        size: int = 64,
        looks: int = 3,
        seed: int = 0,
    ) -> None:
        """Initialize a new SyntheticMSSAR instance.

        Args:
            split: One of 'train', 'val' or 'test'.
            samples_per_class: Samples per class over all three splits.
            size: Height and width of a patch in pixels.
            looks: Equivalent number of looks of the SAR speckle (lower is noisier).
            seed: Seed of the whole dataset; the same seed gives the same samples.

        Raises:
            ValueError: If ``split`` is unknown or a split would be empty.
        """
        if split not in self.split_fractions:
            msg = f'split must be one of {list(self.split_fractions)}, got {split!r}'
            raise DataError(msg)
        self.split = split
        self.size = size
        self.looks = looks
        self.seed = seed
        self.per_class = round(samples_per_class * self.split_fractions[split])
        if self.per_class < 1:
            msg = (
                f'samples_per_class={samples_per_class} leaves the {split} split empty'
            )
            raise DataError(msg)

    def __len__(self) -> int:
        """Return the number of samples in this split.

        Returns:
            Length of the split.
        """
        return self.per_class * len(self.classes)

    def __getitem__(self, index: int) -> Sample:
        """Generate one paired sample.

        Args:
            index: Index within the split.

        Returns:
            ``image_ms`` (13, H, W) float32 DN 0..10000, ``image_sar`` (2, H, W)
            float32 dB, ``label`` int64 scalar.

        Raises:
            IndexError: If ``index`` is out of range.
        """
        if not 0 <= index < len(self):
            raise IndexError(f'index {index} out of range for {len(self)} samples')
        label = index % len(self.classes)
        split_id = list(self.split_fractions).index(self.split)
        gen = Generator().manual_seed((self.seed * 3 + split_id) * 10_000_019 + index)
        fractions = _layout(self.classes[label], self.size, gen)
        return {
            'image_ms': _render_ms(fractions, gen),
            'image_sar': _render_sar(fractions, self.looks, gen),
            'label': torch.tensor(label),
        }


def _rand(gen: Generator, low: float = 0.0, high: float = 1.0) -> float:
    return low + (high - low) * torch.rand((), generator=gen).item()


def _smooth_noise(size: int, cells: int, gen: Generator) -> Tensor:
    """Zero-mean, unit-std noise with features about ``size / cells`` pixels wide."""
    coarse = torch.randn(1, 1, cells, cells, generator=gen)
    field = F.interpolate(
        coarse, size=(size, size), mode='bicubic', align_corners=False
    )
    field = field[0, 0]
    return (field - field.mean()) / (field.std() + 1e-6)


def _rotated_axes(size: int, gen: Generator) -> tuple[Tensor, Tensor]:
    """Pixel coordinates (in pixels, centred) along and across a random direction."""
    theta = _rand(gen, 0, math.pi)
    c = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    y, x = torch.meshgrid(c, c, indexing='ij')
    u = x * math.cos(theta) + y * math.sin(theta)
    v = -x * math.sin(theta) + y * math.cos(theta)
    return u, v


def _band(distance: Tensor, width: float) -> Tensor:
    """Soft indicator of ``|distance| < width / 2`` with one-pixel edges."""
    return torch.sigmoid(2.0 * (width / 2 - distance.abs()))


def _layout(name: str, size: int, gen: Generator) -> Tensor:
    """Material fractions ``(E, size, size)`` summing to 1 per pixel for one class."""
    e = {m: i for i, m in enumerate(_NAMES)}
    frac = torch.zeros(len(_NAMES), size, size)
    tex = _smooth_noise(size, 6, gen)
    u, v = _rotated_axes(size, gen)

    def mix(a: str, b: str, weight_b: Tensor) -> None:
        frac[e[a]] += 1 - weight_b
        frac[e[b]] += weight_b

    match name:
        case 'AnnualCrop':
            period = _rand(gen, 8, 20)
            stripes = torch.sigmoid(3 * torch.sin(2 * math.pi * u / period))
            mix('crop', 'soil', stripes * _rand(gen, 0.5, 1.0))
        case 'Forest':
            mix('forest', 'grass', (0.1 * tex).clamp(0, 1))
        case 'HerbaceousVegetation':
            mix('grass', 'forest', (0.3 + 0.3 * tex).clamp(0, 1))
            frac *= 1 - 0.2 * (tex > 1.2).float()
            frac[e['soil']] += 0.2 * (tex > 1.2).float()
        case 'Highway':
            background = 'crop' if _rand(gen) < 0.5 else 'grass'
            mix(background, 'asphalt', _band(u - _rand(gen, -12, 12), _rand(gen, 3, 7)))
        case 'Industrial':
            blocks = torch.rand(1, 1, 4, 4, generator=gen)
            blocks = F.interpolate(blocks, size=(size, size), mode='nearest')[0, 0]
            frac[e['roof']] += (blocks > 0.4).float()
            frac[e['urban']] += ((blocks <= 0.4) & (blocks > 0.15)).float()
            frac[e['asphalt']] += (blocks <= 0.15).float()
        case 'Pasture':
            mix('grass', 'soil', (0.05 + 0.05 * tex).clamp(0, 1))
        case 'PermanentCrop':
            period = _rand(gen, 5, 9)
            dots = torch.cos(2 * math.pi * u / period) * torch.cos(
                2 * math.pi * v / period
            )
            mix('soil', 'forest', torch.sigmoid(6 * (dots - 0.3)))
        case 'Residential':
            cells = int(_rand(gen, 8, 14))
            blocks = torch.rand(1, 1, cells, cells, generator=gen)
            blocks = F.interpolate(blocks, size=(size, size), mode='nearest')[0, 0]
            frac[e['urban']] += (blocks > 0.45).float()
            frac[e['grass']] += ((blocks <= 0.45) & (blocks > 0.1)).float()
            frac[e['asphalt']] += (blocks <= 0.1).float()
        case 'River':
            meander = _rand(gen, 3, 8) * torch.sin(2 * math.pi * v / _rand(gen, 30, 80))
            river = _band(u - _rand(gen, -10, 10) - meander, _rand(gen, 5, 12))
            mix('forest' if _rand(gen) < 0.5 else 'grass', 'water', river)
        case 'SeaLake':
            shore = torch.sigmoid(u - _rand(gen, 15, 45))
            mix('water', 'grass', shore)
        case _:
            raise ValueError(f'unknown class {name!r}')
    return frac / frac.sum(0, keepdim=True)


def _render_ms(frac: Tensor, gen: Generator) -> Tensor:
    """Sentinel-2-like digital numbers (13, H, W) from material fractions."""
    size = frac.shape[-1]
    jitter = 1 + 0.05 * torch.randn(len(_NAMES), 1, generator=gen)
    reflectance = torch.einsum('ehw,eb->bhw', frac, _REFLECTANCE * jitter)
    gain = _rand(gen, 0.85, 1.15) * (1 + 0.05 * _smooth_noise(size, 4, gen))
    reflectance = reflectance * gain + 0.004 * torch.randn(
        reflectance.shape, generator=gen
    )
    return (reflectance * 10000).round().clamp(0, 10000)


def _render_sar(frac: Tensor, looks: int, gen: Generator) -> Tensor:
    """Sentinel-1-like backscatter in dB (2, H, W) from material fractions."""
    # Sentinel-1 GRD resolves about 20 m against Sentinel-2's 10 m.
    blurred = F.avg_pool2d(frac[None], 3, stride=1, padding=1, count_include_pad=False)[
        0
    ]
    sigma0 = torch.einsum('ehw,ep->phw', blurred, _SIGMA0)
    sigma0 = sigma0 * 10 ** (_rand(gen, -1.5, 1.5) / 10)
    # Multi-look intensity speckle: the mean of `looks` unit exponentials.
    speckle = torch.empty(looks, *sigma0.shape).exponential_(generator=gen).mean(0)
    noise_floor = 10 ** (-25 / 10)
    return 10 * torch.log10(
        sigma0 * speckle + noise_floor * torch.rand(sigma0.shape, generator=gen)
    )
