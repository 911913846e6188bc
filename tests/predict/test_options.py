import pytest

from geokd.errors import OptionError
from geokd.predict import PredictOptions


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'batch_size': 0}, '--batch-size 0: must be an integer >= 1'),
        ({'batch_size': True}, '--batch-size True'),
        ({'batch_size': 2.0}, '--batch-size 2.0'),
        ({'stride': 0}, r'--stride 0: must be an integer in \[1, 4096\]'),
        ({'patch_size': -16}, '--patch-size -16'),
        ({'window': 10**6}, r'--window 1000000: must be an integer in \[1, 16384\]'),
        ({'min_valid': float('nan')}, '--min-valid nan'),
        ({'min_valid': '0.5'}, '--min-valid 0.5'),
        ({'device': 'cuda:x'}, "--device 'cuda:x': unknown device"),
        ({'device': None}, '--device None'),
    ],
)
def test_options_out_of_range(change: dict, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        PredictOptions(**change).check()


def test_valid_options() -> None:
    PredictOptions().check()
    PredictOptions(patch_size=1, stride=1, batch_size=1, window=1, min_valid=0,
                   device='cuda:3').check()  # fmt: skip
    PredictOptions(min_valid=1, device='auto').check()
