import pytest
import torch

from geokd.datasets import SyntheticMSSAR


def test_sample_shapes_and_ranges() -> None:
    ds = SyntheticMSSAR('train', samples_per_class=10, size=32)
    assert len(ds) == 70
    sample = ds[3]
    assert sample['image_ms'].shape == (13, 32, 32)
    assert sample['image_sar'].shape == (2, 32, 32)
    assert sample['image_ms'].dtype == sample['image_sar'].dtype == torch.float32
    assert sample['image_ms'].min() >= 0
    assert sample['image_ms'].max() <= 10000
    assert sample['image_sar'].min() > -45
    assert sample['image_sar'].max() < 15
    assert sample['label'].item() == 3


def test_stratified_splits() -> None:
    sizes = {
        s: len(SyntheticMSSAR(s, samples_per_class=20))
        for s in ('train', 'val', 'test')
    }
    assert sizes == {'train': 140, 'val': 20, 'test': 40}
    labels = [
        SyntheticMSSAR('val', samples_per_class=20)[i]['label'].item()
        for i in range(20)
    ]
    assert sorted(labels) == sorted(list(range(10)) * 2)


def test_deterministic_per_seed_and_split() -> None:
    a = SyntheticMSSAR('train', samples_per_class=10, size=16)[5]
    b = SyntheticMSSAR('train', samples_per_class=10, size=16)[5]
    c = SyntheticMSSAR('train', samples_per_class=10, size=16, seed=1)[5]
    d = SyntheticMSSAR('test', samples_per_class=10, size=16)[5]
    assert torch.equal(a['image_sar'], b['image_sar'])
    assert not torch.equal(a['image_sar'], c['image_sar'])
    assert not torch.equal(a['image_ms'], d['image_ms'])


def test_errors() -> None:
    with pytest.raises(ValueError, match='split must be one of'):
        SyntheticMSSAR('holdout')  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='empty'):
        SyntheticMSSAR('val', samples_per_class=2)
    with pytest.raises(IndexError):
        SyntheticMSSAR('val', samples_per_class=10)[10]


def test_physics_water_dark_and_urban_bright() -> None:
    ds = SyntheticMSSAR('train', samples_per_class=10, size=32)
    by_class = {ds.classes[i % 10]: ds[i] for i in range(10)}
    nir = ds.all_band_names['ms'].index('B08')
    sea, forest, industrial = (
        by_class['SeaLake'],
        by_class['Forest'],
        by_class['Industrial'],
    )
    assert sea['image_ms'][nir].mean() < 0.3 * forest['image_ms'][nir].mean()
    assert sea['image_sar'][0].mean() < forest['image_sar'][0].mean() - 6
    assert industrial['image_sar'][0].mean() > forest['image_sar'][0].mean()
    red_edge = [ds.all_band_names['ms'].index(b) for b in ('B04', 'B07')]
    assert (
        forest['image_ms'][red_edge[1]].mean()
        > 3 * forest['image_ms'][red_edge[0]].mean()
    )


def _nearest_centroid_accuracy(key: str) -> float:
    """Accuracy of a nearest-centroid classifier on per-band patch means and stds."""

    def features(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        ds = SyntheticMSSAR(split, samples_per_class=30, size=32)  # type: ignore[arg-type]
        xs = [ds[i] for i in range(len(ds))]
        x = torch.stack(
            [torch.cat([s[key].mean((1, 2)), s[key].std((1, 2))]) for s in xs]
        )
        return x, torch.stack([s['label'] for s in xs])

    x_tr, y_tr = features('train')
    x_te, y_te = features('test')
    mu, sd = x_tr.mean(0), x_tr.std(0)
    x_tr, x_te = (x_tr - mu) / sd, (x_te - mu) / sd
    centroids = torch.stack([x_tr[y_tr == c].mean(0) for c in range(10)])
    pred = torch.cdist(x_te, centroids).argmin(1)
    return (pred == y_te).float().mean().item()


def test_sar_view_less_separable_than_ms() -> None:
    ms, sar = (
        _nearest_centroid_accuracy('image_ms'),
        _nearest_centroid_accuracy('image_sar'),
    )
    assert sar > 0.2  # better than chance (0.1): SAR still carries information
    assert ms > sar + 0.1
