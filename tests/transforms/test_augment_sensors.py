import kornia.augmentation as K
import pytest
import torch

from geokd.transforms import AugmentSensors, RandomFlipRotate90, build_augmentation


def _marked(n: int, bands: int) -> torch.Tensor:
    image = torch.zeros(n, bands, 8, 8)
    image[:, :, 1, 2] = 1.0
    return image


def test_augmentation_is_paired() -> None:
    # A marker at the same spot of both sensors stays at the same spot in both.
    torch.manual_seed(0)
    aug = AugmentSensors([RandomFlipRotate90(p=1.0)])
    n = 16
    batch = {'image_ms': _marked(n, 13), 'image_sar': _marked(n, 2)}
    out = aug(batch | {'label': torch.arange(n)})
    moved = 0
    for i in range(n):
        spot_ms = (out['image_ms'][i, 0] > 0.5).nonzero().tolist()
        spot_sar = (out['image_sar'][i, 1] > 0.5).nonzero().tolist()
        assert len(spot_ms) == 1
        assert spot_ms == spot_sar
        moved += spot_ms != [[1, 2]]
    assert moved > 0
    assert torch.equal(out['label'], torch.arange(n))


def test_unpaired_batches_are_augmented_independently() -> None:
    torch.manual_seed(0)
    aug = AugmentSensors([RandomFlipRotate90(p=1.0)])
    n = 16
    batch = {
        'image_ms': _marked(n, 13),
        'label_ms': torch.arange(n),
        'image_sar': _marked(n, 2),
        'label_sar': torch.arange(n),
    }
    out = aug(batch)
    differ = sum(
        not torch.equal(out['image_ms'][i, 0], out['image_sar'][i, 0]) for i in range(n)
    )
    assert differ > 0
    assert torch.equal(out['label_sar'], torch.arange(n))


def test_presets() -> None:
    assert build_augmentation('none') is None
    assert build_augmentation([]) is None
    [reference] = build_augmentation('reference').augment  # type: ignore[union-attr]
    assert isinstance(reference, RandomFlipRotate90)
    assert (reference.p, reference.p_flip, reference.p_rotate) == (0.5, 0.5, 0.5)
    [flip] = build_augmentation([K.RandomVerticalFlip()]).augment  # type: ignore[union-attr]
    assert isinstance(flip, K.RandomVerticalFlip)
    with pytest.raises(ValueError, match="'reference', 'none' or a list"):
        build_augmentation('flips')  # type: ignore[arg-type]
