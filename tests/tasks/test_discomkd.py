from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer, seed_everything

from geokd import losses
from geokd.callbacks import ClassifierCheckpoints
from geokd.datamodules import SyntheticMSSARDataModule
from geokd.tasks import DisCoMKDTask

BACKBONE = 'test_resnet'


def _task(**kwargs: object) -> DisCoMKDTask:
    return DisCoMKDTask(
        in_channels={'ms': 13, 'sar': 2}, num_classes=10, backbone=BACKBONE, **kwargs
    )  # type: ignore[arg-type]


def _batch(n: int = 6, size: int = 16) -> dict[str, torch.Tensor]:
    return {
        'image_ms': torch.randn(n, 13, size, size),
        'image_sar': torch.randn(n, 2, size, size),
        'label': torch.arange(n) % 10,
    }


def test_paired_and_unpaired_batches_give_finite_losses() -> None:
    task = _task()
    paired = _batch()
    loss = task._shared_step(paired, 'val')
    assert torch.isfinite(loss)
    unpaired = {
        'image_ms': torch.randn(5, 13, 16, 16),
        'label_ms': torch.tensor([0, 1, 2, 3, 4]),
        'image_sar': torch.randn(3, 2, 16, 16),
        'label_sar': torch.tensor([7, 8, 9]),
    }
    loss = task._shared_step(unpaired, 'val')
    assert torch.isfinite(loss)


def test_unpaired_labels_are_used_per_modality() -> None:
    task = _task()
    _images, labels = task._unpack(
        {**_batch(4), 'label_sar': torch.tensor([9, 9, 9, 9])}
    )
    assert labels['sar'].tolist() == [9, 9, 9, 9]
    assert labels['ms'].tolist() == [0, 1, 2, 3]
    with pytest.raises(KeyError, match="no 'image_sar'"):
        task._unpack({'image_ms': torch.zeros(1, 13, 4, 4), 'label': torch.zeros(1)})
    with pytest.raises(KeyError, match='neither'):
        task._unpack({'image_ms': torch.zeros(1), 'image_sar': torch.zeros(1)})


def test_loss_terms_use_integer_modality_labels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, torch.Tensor] = {}
    adversarial_loss = losses.adversarial_loss

    def spy(mod_adv: torch.Tensor, modality: torch.Tensor) -> torch.Tensor:
        seen['modality'] = modality
        return adversarial_loss(mod_adv, modality)

    monkeypatch.setattr(losses, 'adversarial_loss', spy)
    task = _task()
    images, labels = task._unpack(_batch(4))
    terms = task._loss_terms(task.model(images), labels)
    assert set(terms) == {'cl', 'aux', 'mod', 'adv', 'perp'}
    assert all(t.ndim == 0 and torch.isfinite(t) for t in terms.values())
    # Class indices, one per sample: ms is modality 0, sar modality 1.
    assert seen['modality'].dtype == torch.int64
    assert seen['modality'].tolist() == [0] * 4 + [1] * 4


def test_ablation_weight_zero_removes_term_gradient() -> None:
    task = _task(cl_weight=0.0, aux_weight=0.0, mod_weight=0.0, perp_weight=0.0)
    loss = task._shared_step(_batch(4), 'train')
    loss.backward()
    # Only L_adv is left: the task heads receive no gradient.
    assert (
        task.model.branches['ms'].head.weight.grad is None
        or not task.model.branches['ms'].head.weight.grad.any()
    )
    assert task.model.d_adv.weight.grad is not None
    assert task.model.d_adv.weight.grad.any()


def test_defaults_follow_reference() -> None:
    task = _task()
    optimizer = task.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam)
    assert optimizer.defaults['lr'] == 1e-4
    assert task.model.grl.lambda_ == 1.0


def test_every_branch_is_deployable() -> None:
    task = _task()
    deployable = task.deployable_classifiers()
    assert list(deployable) == ['ms', 'sar']
    for m, classifier in deployable.items():
        assert classifier.module is task.model.branches[m]
        assert classifier.spec.architecture == 'discomkd_branch'
        assert classifier.spec.in_channels == task.hparams['in_channels'][m]
        assert classifier.spec.build().state_dict().keys() == (
            classifier.module.state_dict().keys()
        )
    assert task.method_name == 'DisCoM-KD'


def test_class_names_must_match() -> None:
    with pytest.raises(ValueError, match='class_names'):
        _task(class_names=['a', 'b'])


def test_dann_schedule_updates_lambda() -> None:
    seed_everything(0)
    task = _task(grl_schedule='dann')
    dm = SyntheticMSSARDataModule(batch_size=10, samples_per_class=10, size=16)
    trainer = Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
    )
    trainer.fit(task, dm)
    assert 0.0 < task.model.grl.lambda_ < 1.0


def _eval_loss(task: DisCoMKDTask, batch: dict[str, torch.Tensor]) -> float:
    task.eval()
    with torch.no_grad():
        images, labels = task._unpack(batch)
        terms = task._loss_terms(task.model(images), labels)
    task.train()
    return sum(terms.values()).item()  # type: ignore[union-attr]


def test_short_training_lowers_loss_and_beats_chance(tmp_path: Path) -> None:
    seed_everything(0)
    task = _task(lr=2e-3)
    dm = SyntheticMSSARDataModule(batch_size=20, samples_per_class=30, size=32)
    trainer = Trainer(
        max_epochs=5,
        default_root_dir=tmp_path,
        logger=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
        callbacks=[ClassifierCheckpoints()],
    )
    dm.setup('fit')
    batch = dm.normalize(next(iter(dm.val_dataloader())))
    before = _eval_loss(task, batch)
    trainer.fit(task, dm)
    after = _eval_loss(task, batch)
    assert after < before
    results = trainer.test(task, dm, verbose=False)[0]
    # Chance is 0.1 on ten balanced classes.
    assert results['test_acc_ms'] > 0.3
    assert results['test_acc_sar'] > 0.2
    # One best checkpoint per modality.
    names = [p.name for p in (tmp_path / 'checkpoints').iterdir()]
    assert any(n.startswith('best-ms-') for n in names)
    assert any(n.startswith('best-sar-') for n in names)
    assert 'last.ckpt' in names
