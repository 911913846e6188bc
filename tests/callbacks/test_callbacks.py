"""geokd's training callbacks: checkpoints per classifier, testing and export."""

import os
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything
from lightning.pytorch.loggers import CSVLogger

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


def test_each_run_keeps_its_checkpoints_and_last_resumes_the_newest(
    tmp_path: Path,
) -> None:
    # Two runs in one directory once shared <root>/checkpoints: the first run's
    # best-*.ckpt lay beside the second's, and "the best checkpoint" of the
    # directory could be the wrong run's.
    def trainer(epochs: int, *callbacks: Callback) -> Trainer:
        return Trainer(
            max_epochs=epochs,
            default_root_dir=tmp_path,
            logger=CSVLogger(tmp_path),
            enable_progress_bar=False,
            enable_model_summary=False,
            callbacks=[ClassifierCheckpoints(), *callbacks],
        )

    seed_everything(0)
    with pytest.raises(SystemExit):  # Lightning ends the process on Ctrl-C
        trainer(3, _Interrupt(2)).fit(_task(), _data())
    trainer(1).fit(_task(), _data())
    first, second = (tmp_path / 'lightning_logs' / v / 'checkpoints' for v in
                     ('version_0', 'version_1'))  # fmt: skip
    for directory in (first, second):
        names = sorted(p.name for p in directory.iterdir())
        assert names[-1] == 'last.ckpt', names
        assert {n.split('-')[1] for n in names[:-1]} == {'ms', 'sar'}, names
    assert not (tmp_path / 'checkpoints').exists()
    # --ckpt_path last takes the newest last.ckpt and goes on in its version.
    os.utime(first / 'last.ckpt')
    resumed = trainer(3)
    resumed.fit(_task(), _data(), ckpt_path='last')
    assert resumed.current_epoch == 3
    assert resumed.log_dir == str(tmp_path / 'lightning_logs' / 'version_0')
    assert read_checkpoint(first / 'last.ckpt')['epoch'] == 2
    assert not (tmp_path / 'lightning_logs' / 'version_2').exists()


def test_testing_a_full_checkpoint_keeps_the_best_paths_training_chose(
    tmp_path: Path,
) -> None:
    # A full checkpoint holds the callbacks' state at its epoch; testing it after
    # fitting restores that state, and the best paths then named checkpoints
    # replaced since (geokd export then failed: 'no such checkpoint file').
    seed_everything(0)
    checkpoints = ClassifierCheckpoints(best_weights_only=False)
    trainer = _trainer(tmp_path, 1, [checkpoints])
    task, data = _task(), _data()
    trainer.fit(task, data)
    chosen = best_checkpoints(trainer)
    assert chosen
    stale = torch.load(chosen['sar'], map_location='cpu', weights_only=True)
    for state in stale['callbacks'].values():
        if 'best_model_path' in state:
            state['best_model_path'] = str(tmp_path / 'replaced-since.ckpt')
    torch.save(stale, tmp_path / 'old.ckpt')
    trainer.test(task, data, ckpt_path=tmp_path / 'old.ckpt', verbose=False)
    assert best_checkpoints(trainer) == chosen
