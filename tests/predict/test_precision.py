"""Prediction precision: 'auto' by hardware, recorded in the summary, kept on --resume."""

from pathlib import Path

import pytest

from geokd import precision
from geokd.export import SingleSensorClassifier
from geokd.predict import OutputPaths, PredictError, PredictOptions, predict_scene
from geokd.predict.output.working import WorkingRasters

from .conftest import WriteScene, sar_pixels
from .test_pipeline import _interrupt_after_first_window


def test_auto_is_bf16_only_on_cpus_with_native_bf16(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auto = PredictOptions()
    # The suite's autouse fixture: this CPU has no native bfloat16.
    assert auto.resolved_precision('cpu') == '32'
    assert auto.resolved_precision('mps') == '32'
    assert auto.resolved_precision('cuda') == '16-mixed'
    monkeypatch.setattr(precision, 'cpu_has_native_bf16', lambda: True)
    assert auto.resolved_precision('cpu') == 'bf16-mixed'
    assert PredictOptions(precision='32').resolved_precision('cpu') == '32'


def test_summary_records_the_precision(
    tmp_path: Path,
    write_scene: WriteScene,
    sar_model: SingleSensorClassifier,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scene = write_scene(sar_pixels(64, 64, seed=1))
    summary = predict_scene(
        sar_model, scene, tmp_path / 'a', PredictOptions(quiet=True)
    )
    assert summary['options']['precision'] == '32'
    monkeypatch.setattr(precision, 'cpu_has_native_bf16', lambda: True)
    summary = predict_scene(
        sar_model, scene, tmp_path / 'b', PredictOptions(quiet=True)
    )
    assert summary['options']['precision'] == 'bf16-mixed'


@pytest.mark.parametrize('native_at_start', [True, False])
def test_resume_refuses_another_precision(
    native_at_start: bool,
    tmp_path: Path,
    write_scene: WriteScene,
    sar_model: SingleSensorClassifier,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 'auto' begun on a CPU with native bfloat16 and resumed on one without, and
    # the other way round: the same command, another precision.
    scene = write_scene(sar_pixels(272, 160, seed=2))
    paths = OutputPaths(tmp_path / 'part')
    with monkeypatch.context() as m:
        m.setattr(precision, 'cpu_has_native_bf16', lambda: native_at_start)
        write_window = _interrupt_after_first_window(m)
        with pytest.raises(KeyboardInterrupt):
            predict_scene(
                sar_model, scene, paths.prefix, PredictOptions(window=256, quiet=True)
            )
    assert WorkingRasters.write_window is write_window
    monkeypatch.setattr(precision, 'cpu_has_native_bf16', lambda: not native_at_start)
    resumed = PredictOptions(window=256, resume=True, quiet=True)
    begun, now = ('bf16-mixed', '32') if native_at_start else ('32', 'bf16-mixed')
    with pytest.raises(PredictError) as info:
        predict_scene(sar_model, scene, paths.prefix, resumed)
    message = str(info.value)
    assert '\n' not in message
    assert f'begun in precision {begun}, this run would finish it in {now}' in message
    assert f'--precision {begun}' in message
    assert paths.partial.is_dir()  # still resumable
    # With the precision it began in, it resumes.
    resumed.precision = begun
    summary = predict_scene(sar_model, scene, paths.prefix, resumed)
    assert summary['resumed']
    assert summary['options']['precision'] == begun
