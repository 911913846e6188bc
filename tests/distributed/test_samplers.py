"""Each process's share of the splits, built in this process for both ranks."""

import pytest
from lightning.pytorch import Trainer
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from lightning.pytorch.utilities import CombinedLoader
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from geokd.datamodules import SyntheticMSSARDataModule
from geokd.datamodules.distributed import (
    evaluation_sampler,
    process_share,
    training_sampler,
)


def _trainer(
    monkeypatch: pytest.MonkeyPatch, rank: int, devices: int = 2, **kwargs: object
) -> Trainer:
    # A DDP trainer as process `rank` sees it (nothing is launched before fit).
    monkeypatch.setenv('LOCAL_RANK', str(rank))
    return Trainer(
        accelerator='cpu', devices=devices, strategy='ddp', logger=False, **kwargs
    )


def _datamodule(trainer: Trainer | None, **kwargs: object) -> SyntheticMSSARDataModule:
    dm = SyntheticMSSARDataModule(batch_size=4, samples_per_class=10, size=8, **kwargs)  # type: ignore[arg-type]
    dm.trainer = trainer
    dm.setup('fit')
    return dm


def test_no_share_outside_a_distributed_trainer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert process_share(None) is None
    assert process_share(Trainer(accelerator='cpu', devices=1, logger=False)) is None
    off = _trainer(monkeypatch, 0, use_distributed_sampler=False)
    assert process_share(off) is None
    loader = _datamodule(None).train_dataloader()
    assert isinstance(loader, DataLoader)
    assert isinstance(loader.sampler, RandomSampler)


def test_unpaired_loaders_shuffle_apart_and_cover_the_split(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    indices: dict[str, list[int]] = {'ms': [], 'sar': []}
    for rank in (0, 1):
        combined = _datamodule(_trainer(monkeypatch, rank), paired=False)
        loaders = combined.train_dataloader()
        assert isinstance(loaders, CombinedLoader)
        samplers = {m: dl.sampler for m, dl in loaders.iterables.items()}
        assert all(isinstance(s, DistributedSampler) for s in samplers.values())
        assert [s.rank for s in samplers.values()] == [rank, rank]
        assert samplers['ms'].seed != samplers['sar'].seed
        assert list(samplers['ms']) != list(samplers['sar'])
        for m, sampler in samplers.items():
            first = list(sampler)
            sampler.set_epoch(1)
            assert list(sampler) != first
            sampler.set_epoch(0)
            indices[m] += first
    for m in ('ms', 'sar'):
        assert sorted(indices[m]) == list(range(70))


def test_last_batch_dropped_only_when_the_share_holds_a_full_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dm = _datamodule(_trainer(monkeypatch, 1))
    assert dm.train_dataloader().drop_last  # 35 samples per process, batches of 4
    dm.batch_size = 40  # more than a share (35), less than the split (70)
    loader = dm.train_dataloader()
    assert not loader.drop_last
    assert len(loader) == 1


def test_evaluation_shares_repeat_no_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    shares = []
    for rank in (0, 1, 2):
        sampler = evaluation_sampler(
            range(7), _trainer(monkeypatch, rank, devices=3), 'val'
        )
        assert isinstance(sampler, UnrepeatedDistributedSampler)
        shares.append(list(sampler))
    assert [len(s) for s in shares] == [3, 2, 2]
    assert sorted(i for s in shares for i in s) == list(range(7))
    dm = _datamodule(_trainer(monkeypatch, 1))
    dm.setup('test')
    for loader in (dm.val_dataloader(), dm.test_dataloader()):
        assert isinstance(loader.sampler, UnrepeatedDistributedSampler)
        assert loader.sampler.rank == 1


def test_evaluation_split_smaller_than_the_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trainer = _trainer(monkeypatch, 0, devices=3)
    with pytest.raises(ValueError, match='the test split has 2 samples, fewer than'):
        evaluation_sampler(range(2), trainer, 'test')
    assert training_sampler(range(2), trainer) is not None  # padded to one each
