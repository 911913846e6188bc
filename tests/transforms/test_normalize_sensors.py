import pytest
import torch

from geokd.transforms import NormalizeSensors, SensorNormalization


def test_each_sensor_with_its_own_statistics() -> None:
    normalize = NormalizeSensors(
        {
            'ms': SensorNormalization(shift=[1.0, 2.0], scale=[2.0, 2.0]),
            'sar': SensorNormalization(shift=[0.0], scale=[1.0], to_db=True),
        }
    )
    batch = {
        'image_ms': torch.full((1, 2, 2, 2), 5.0),
        'image_sar': torch.full((1, 1, 2, 2), 0.1),
        'label': torch.tensor([3]),
    }
    out = normalize(batch)
    torch.testing.assert_close(out['image_ms'][0, :, 0, 0], torch.tensor([2.0, 1.5]))
    torch.testing.assert_close(out['image_sar'][0, 0, 0, 0], torch.tensor(-10.0))
    assert torch.equal(out['label'], batch['label'])
    # The input batch is left as it was.
    assert batch['image_ms'][0, 0, 0, 0] == 5.0


def test_errors_name_the_image() -> None:
    normalize = NormalizeSensors({'ms': SensorNormalization(shift=[0.0], scale=[1.0])})
    with pytest.raises(ValueError, match=r'image_ms: 2 bands, but .* for 1'):
        normalize({'image_ms': torch.zeros(1, 2, 2, 2)})
    with pytest.raises(ValueError, match=r"image_depth: no normalisation .*\['ms'\]"):
        normalize({'image_depth': torch.zeros(1, 1, 2, 2)})
