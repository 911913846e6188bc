"""Prediction precision: 'auto' by hardware, recorded in the summary, kept on --resume."""

from pathlib import Path

import pytest

from geokd import precision
from geokd.export import SingleSensorClassifier
from geokd.predict import PredictError, PredictOptions, predict_scene

from .conftest import WriteScene, sar_pixels
from .test_pipeline import _interrupted_run


def test_auto_stays_fp32_on_cpus_with_native_bf16(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # bf16 missed the 99.5 % class-map agreement on a real scene: opt-in only.
    monkeypatch.setattr(precision, 'cpu_has_native_bf16', lambda: True)
    auto = PredictOptions()
    assert auto.resolved_precision('cpu') == '32'
    assert auto.resolved_precision('mps') == '32'
    assert auto.resolved_precision('cuda') == '16-mixed'
    assert (
        PredictOptions(precision='bf16-mixed').resolved_precision('cpu') == 'bf16-mixed'
    )


def test_summary_records_the_precision(
    tmp_path: Path,
    write_scene: WriteScene,
    sar_model: SingleSensorClassifier,
) -> None:
    scene = write_scene(sar_pixels(64, 64, seed=1))
    summary = predict_scene(
        sar_model, scene, tmp_path / 'a', PredictOptions(quiet=True)
    )
    assert summary['options']['precision'] == '32'
    bf16 = PredictOptions(quiet=True, precision='bf16-mixed')
    summary = predict_scene(sar_model, scene, tmp_path / 'b', bf16)
    assert summary['options']['precision'] == 'bf16-mixed'


@pytest.mark.parametrize(
    ('begun', 'now'), [('bf16-mixed', 'auto'), ('32', 'bf16-mixed')]
)
def test_resume_refuses_another_precision(
    begun: str,
    now: str,
    tmp_path: Path,
    two_window_scene: Path,
    sar_model: SingleSensorClassifier,
) -> None:
    scene = two_window_scene
    options = PredictOptions(window=256, quiet=True, precision=begun)
    paths = _interrupted_run(sar_model, scene, tmp_path / 'part', options)
    resumed = PredictOptions(window=256, resume=True, quiet=True, precision=now)
    with pytest.raises(PredictError) as info:
        predict_scene(sar_model, scene, paths.prefix, resumed)
    message = str(info.value)
    assert '\n' not in message
    resolved = resumed.resolved_precision('cpu')
    assert (
        f'begun in precision {begun}, this run would finish it in {resolved}' in message
    )
    assert f'--precision {begun}' in message
    assert paths.partial.is_dir()  # still resumable
    # With the precision it began in, it resumes.
    resumed.precision = begun
    summary = predict_scene(sar_model, scene, paths.prefix, resumed)
    assert summary['resumed']
    assert summary['options']['precision'] == begun
