import json

import pytest
import torch

from geokd.transforms import SensorNormalization


def test_standard_by_hand() -> None:
    norm = SensorNormalization(shift=[1.0, 10.0], scale=[2.0, 5.0])
    x = torch.tensor([[[[3.0]], [[0.0]]]])
    torch.testing.assert_close(norm(x).flatten(), torch.tensor([1.0, -2.0]))


def test_percentile_clips_to_unit_range() -> None:
    norm = SensorNormalization(method='percentile', shift=[100.0], scale=[900.0])
    x = torch.tensor([0.0, 100.0, 550.0, 1000.0, 5000.0]).reshape(1, 1, 1, 5)
    torch.testing.assert_close(
        norm(x).flatten(), torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0])
    )


def test_db_conversion() -> None:
    norm = SensorNormalization(shift=[0.0], scale=[1.0], to_db=True)
    x = torch.tensor([1.0, 0.1, 0.01]).reshape(1, 1, 1, 3)
    torch.testing.assert_close(norm(x).flatten(), torch.tensor([0.0, -10.0, -20.0]))


def test_estimate_standard_and_percentile() -> None:
    x = torch.arange(101, dtype=torch.float32).reshape(1, 1, 1, 101).repeat(2, 2, 1, 1)
    x[:, 1] *= 2
    std = SensorNormalization.estimate(x)
    assert std.shift == pytest.approx([50.0, 100.0])
    pct = SensorNormalization.estimate(x, method='percentile')
    assert pct.shift == pytest.approx([2.0, 4.0])
    assert pct.scale == pytest.approx([96.0, 192.0])


def test_estimate_ignores_non_finite_and_refuses_empty_band() -> None:
    x = torch.tensor([1.0, 3.0, float('nan'), float('inf')]).reshape(1, 1, 1, 4)
    assert SensorNormalization.estimate(x).shift == pytest.approx([2.0])
    with pytest.raises(ValueError, match='band 0 has no finite value'):
        SensorNormalization.estimate(torch.full((1, 1, 2, 2), float('nan')))


def test_json_round_trip() -> None:
    norm = SensorNormalization(
        method='percentile', shift=[1.5], scale=[2.5], to_db=True
    )
    assert SensorNormalization.from_dict(json.loads(json.dumps(norm.to_dict()))) == norm


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'method': 'minmax'}, 'method must be'),
        ({'shift': [0.0], 'scale': []}, '1 shifts but 0 scales'),
        ({'shift': [0.0], 'scale': [0.0]}, 'positive'),
    ],
)
def test_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SensorNormalization(**kwargs)  # type: ignore[arg-type]


def test_band_count_must_match() -> None:
    norm = SensorNormalization(shift=[0.0, 0.0], scale=[1.0, 1.0])
    with pytest.raises(ValueError, match='3 bands, but the normalisation is for 2'):
        norm(torch.zeros(1, 3, 4, 4))


def test_per_patch_ignores_any_gain_and_offset_of_the_source() -> None:
    # OMBRIA's 8-bit Sentinel-1 PNGs are decibels stretched per image: a * dB + b.
    decibels = torch.randn(3, 2, 8, 8) * 4 - 12
    norm = SensorNormalization.estimate(decibels, method='per_patch')
    assert (norm.shift, norm.scale) == ([0.0, 0.0], [1.0, 1.0])
    stretched = 255 * (decibels + 30) / 35
    torch.testing.assert_close(norm(stretched), norm(decibels), atol=1e-4, rtol=0)
    out = norm(decibels)
    torch.testing.assert_close(out.mean((-2, -1)), torch.zeros(3, 2), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std((-2, -1), unbiased=False), torch.ones(3, 2))


def test_per_patch_leaves_invalid_pixels_out_and_zeroes_constant_patches() -> None:
    x = torch.tensor([[[[1.0, 3.0], [float('nan'), 5.0]], [[7.0, 7.0], [7.0, 7.0]]]])
    out = SensorNormalization('per_patch', [0.0, 0.0], [1.0, 1.0])(x)
    expected = torch.tensor([-1.0, 0.0, 1.0]) * (1.5**0.5)
    torch.testing.assert_close(out[0, 0].flatten()[[0, 1, 3]], expected)
    assert out[0, 0, 1, 0].isnan()
    assert (out[0, 1] == 0).all()


def test_per_patch_applies_its_shift_and_scale_and_round_trips() -> None:
    norm = SensorNormalization('per_patch', [1.0], [2.0])
    x = torch.tensor([0.0, 2.0]).reshape(1, 1, 1, 2)
    torch.testing.assert_close(norm(x).flatten(), torch.tensor([-1.0, 0.0]))
    assert SensorNormalization.from_dict(json.loads(json.dumps(norm.to_dict()))) == norm


def test_dicts_of_earlier_versions_still_load() -> None:
    old = {'method': 'standard', 'shift': [1.0], 'scale': [2.0], 'to_db': False}
    assert SensorNormalization.from_dict(old).to_dict() == old


def test_per_patch_leaves_pixels_outside_the_valid_mask_out() -> None:
    x = torch.tensor([1.0, 3.0, -99.0, 5.0]).reshape(1, 1, 2, 2)  # -99: the nodata
    valid = x != -99
    norm = SensorNormalization('per_patch', [0.0], [1.0])
    out = norm(x, valid)
    torch.testing.assert_close(
        out.flatten()[[0, 1, 3]], torch.tensor([-1.0, 0.0, 1.0]) * 1.5**0.5
    )
    assert out.flatten()[2].isnan()
    standard = SensorNormalization(shift=[1.0], scale=[2.0])
    torch.testing.assert_close(standard(x, valid), standard(x))
