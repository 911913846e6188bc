"""geokd's training callbacks: checkpoints per classifier, testing and export."""

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything

from geokd.callbacks import (
    ClassifierCheckpoints,
    EvaluateClassifiers,
    ExportClassifiers,
    best_checkpoints,
)
from geokd.datamodules import SyntheticMSSARDataModule
from geokd.export import load_exported
from geokd.loader import read_checkpoint
from geokd.tasks import DisCoMKDTask


def _task() -> DisCoMKDTask:
    return DisCoMKDTask({'ms': 13, 'sar': 2}, 10, backbone='test_resnet', lr=1e-3)


def _data() -> SyntheticMSSARDataModule:
    return SyntheticMSSARDataModule(batch_size=20, samples_per_class=6, size=16)


def _trainer(root: Path, epochs: int, callbacks: list[Callback]) -> Trainer:
    return Trainer(
        max_epochs=epochs,
        default_root_dir=root,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )


class _Interrupt(Callback):
    """Interrupt training (as Ctrl-C does) when an epoch starts."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        if trainer.current_epoch == self.epoch:
            raise KeyboardInterrupt


def test_last_checkpoint_every_epoch_and_resume(tmp_path: Path) -> None:
    seed_everything(0)
    trainer = _trainer(tmp_path, 3, [ClassifierCheckpoints(), _Interrupt(2)])
    # Lightning ends the process on Ctrl-C, after its exception hooks.
    with pytest.raises(SystemExit):
        trainer.fit(_task(), _data())
    last = tmp_path / 'checkpoints' / 'last.ckpt'
    # Written after each finished epoch, with what resuming needs.
    ckpt = read_checkpoint(last)
    assert ckpt['epoch'] == 1
    assert ckpt['optimizer_states']
    checkpoints = ClassifierCheckpoints()
    resumed = _trainer(tmp_path, 3, [checkpoints])
    resumed.fit(_task(), _data(), ckpt_path='last')
    assert resumed.current_epoch == 3
    assert read_checkpoint(last)['epoch'] == 2
    # Each classifier's best checkpoint is weights only, with the DataModule state.
    assert set(checkpoints.best_paths) == {'ms', 'sar'}
    for m, path in checkpoints.best_paths.items():
        assert Path(path).name.startswith(f'best-{m}-')
        best = read_checkpoint(path)
        assert 'optimizer_states' not in best
        assert 'SyntheticMSSARDataModule' in best
    assert best_checkpoints(resumed) == checkpoints.best_paths
    # Only geokd's checkpoint callbacks: Lightning added none of its own.
    assert all(
        isinstance(cb, ClassifierCheckpoints) or cb in checkpoints.best.values()
        for cb in resumed.checkpoint_callbacks
    )


def test_evaluate_and_export_from_best_epochs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_everything(0)
    checkpoints = ClassifierCheckpoints()
    evaluate = EvaluateClassifiers()
    export = ExportClassifiers(dirpath=str(tmp_path / 'export'))
    task, data = _task(), _data()
    _trainer(tmp_path, 2, [checkpoints, evaluate, export]).fit(task, data)
    assert set(evaluate.results) == {'ms', 'sar'}
    for m, result in evaluate.results.items():
        assert result['checkpoint'] == checkpoints.best_paths[m]
        assert 0 <= result['f1'] <= 1
    assert 'weighted F1' in capsys.readouterr().out
    # Each export holds the weights of its own best epoch.
    for m, directory in export.exported.items():
        exported = load_exported(directory)
        best = read_checkpoint(checkpoints.best_paths[m])['state_dict']
        prefix = f'model.branches.{m}.'
        for key, value in exported.model.state_dict().items():
            torch.testing.assert_close(value, best[prefix + key])
        meta = exported.metadata
        assert meta.patch_size == 16
        # Provenance: synthetic 10 m training data, and the run's test metrics.
        assert meta.synthetic
        assert meta.training_data is not None
        assert meta.training_data.dataset == 'geokd.datasets.synthetic.SyntheticMSSAR'
        assert meta.gsd == 10.0
        assert meta.test_metrics == {
            name: {k: r[k] for k in ('f1', 'f1_macro', 'acc')}
            for name, r in evaluate.results.items()
        }
        assert meta.torch_version == torch.__version__
        assert meta.exported_at is not None


def test_disabled_callbacks_do_nothing(tmp_path: Path) -> None:
    evaluate = EvaluateClassifiers(enabled=False)
    export = ExportClassifiers(dirpath=str(tmp_path / 'export'), enabled=False)
    trainer = Trainer(
        fast_dev_run=True,
        default_root_dir=tmp_path,
        enable_progress_bar=False,
        callbacks=[evaluate, export],
    )
    trainer.fit(_task(), _data())
    assert evaluate.results == {}
    assert not (tmp_path / 'export').exists()
