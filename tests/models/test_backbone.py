import math
import warnings
from pathlib import Path

import lightning
import pytest
import timm
import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader
from torchgeo.tasks import Classification

from geokd.models import DisCoMKD, create_trunk, torchvision_init
from geokd.models.backbone import feature_dim

BACKBONE = 'test_resnet'  # timm's tiny ResNet, with BasicBlocks and a Bottleneck


def _convs(model: nn.Module) -> dict[str, nn.Conv2d]:
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def _residual_blocks(model: nn.Module) -> list[nn.Module]:
    # timm's ResNet blocks say which of their BatchNorms is last: the one they zero.
    return [m for m in model.modules() if hasattr(m, 'zero_init_last')]


def _last_bn(block: nn.Module) -> nn.BatchNorm2d:
    return block.bn3 if hasattr(block, 'bn3') else block.bn2


@pytest.mark.parametrize('in_chans', [3, 2])
def test_default_init_is_torchvision_resnet18(in_chans: int) -> None:
    torch.manual_seed(0)
    trunk = create_trunk('resnet18', in_chans)
    reference = torchvision.models.resnet18()
    # Same architecture: every parameter of torchvision's ResNet-18 but its head.
    shapes = {k: v.shape for k, v in trunk.state_dict().items()}
    expected = {k: v.shape for k, v in reference.state_dict().items()}
    del expected['fc.weight'], expected['fc.bias']
    expected['conv1.weight'] = torch.Size([64, in_chans, 7, 7])
    assert shapes == expected
    ours, theirs = _convs(trunk), _convs(reference)
    assert list(ours) == list(theirs)
    # The reference replaces conv1 by a new nn.Conv2d for the sensor's channels:
    # PyTorch's default, kaiming-uniform with a = sqrt(5), i.e. U(+-1/sqrt(fan_in)).
    conv1 = ours.pop('conv1').weight
    bound = 1 / math.sqrt(in_chans * 7 * 7)
    assert conv1.abs().max().item() <= bound
    assert conv1.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    for name, conv in theirs.items():
        if name == 'conv1':
            continue
        # kaiming-normal with fan-out: the std does not depend on the input channels.
        weight = ours[name].weight
        fan_out = weight.shape[0] * weight[0, 0].numel()
        assert weight.std().item() == pytest.approx(conv.weight.std().item(), rel=0.05)
        assert weight.std().item() == pytest.approx(math.sqrt(2 / fan_out), rel=0.05)
        assert abs(weight.mean().item()) < 0.1 * math.sqrt(2 / fan_out)
    for name, bn in reference.named_modules():
        if isinstance(bn, nn.BatchNorm2d):
            ours_bn = trunk.get_submodule(name)
            torch.testing.assert_close(ours_bn.weight, bn.weight)
            torch.testing.assert_close(ours_bn.bias, bn.bias)
    blocks = _residual_blocks(trunk)
    assert len(blocks) == 8
    assert all(torch.all(_last_bn(b).weight == 1) for b in blocks)


def test_timm_init_is_timms() -> None:
    torch.manual_seed(0)
    trunk = create_trunk(BACKBONE, 5, init='timm')
    torch.manual_seed(0)
    expected = timm.create_model(BACKBONE, num_classes=0, in_chans=5)
    for key, value in expected.state_dict().items():
        torch.testing.assert_close(trunk.state_dict()[key], value)
    # timm zero-initialises the last BatchNorm of every residual block ...
    blocks = _residual_blocks(trunk)
    assert {type(b).__name__ for b in blocks} == {'BasicBlock', 'Bottleneck'}
    assert all(torch.all(_last_bn(b).weight == 0) for b in blocks)
    # ... and the default ('torchvision') does not.
    default = create_trunk(BACKBONE, 5)
    assert all(torch.all(_last_bn(b).weight == 1) for b in _residual_blocks(default))


def test_torchvision_init_applies_the_same_rule_to_other_architectures() -> None:
    torch.manual_seed(0)
    trunk = create_trunk('test_efficientnet', 4)
    norms = [m for m in trunk.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms
    assert all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in norms)
    for conv in _convs(trunk).values():
        weight = conv.weight
        if weight.numel() >= 2000:  # enough samples for a 10 % test of the std
            fan_out = weight.shape[0] * weight[0, 0].numel()
            assert weight.std().item() == pytest.approx(math.sqrt(2 / fan_out), rel=0.1)
    # Linear layers keep their initialisation: the rule only names Conv2d and norms.
    linear = nn.Linear(64, 64)
    before = linear.weight.clone()
    torchvision_init(linear)
    torch.testing.assert_close(linear.weight, before)


def test_init_reaches_every_trunk_of_the_model() -> None:
    model = DisCoMKD({'ms': 13, 'sar': 2}, 10, backbone=BACKBONE, trunk_init='timm')
    for branch in model.branches.values():
        for trunk in (branch.e_inv, branch.e_spec):
            assert all(
                torch.all(_last_bn(b).weight == 0) for b in _residual_blocks(trunk)
            )
    model = DisCoMKD({'ms': 13, 'sar': 2}, 10, backbone=BACKBONE)
    for branch in model.branches.values():
        for trunk in (branch.e_inv, branch.e_spec):
            assert all(
                torch.all(_last_bn(b).weight == 1) for b in _residual_blocks(trunk)
            )


def test_unknown_init() -> None:
    with pytest.raises(ValueError, match='unknown trunk init'):
        create_trunk(BACKBONE, 3, init='kaiming')  # type: ignore[arg-type]


def _timm_state(in_chans: int = 3) -> dict[str, torch.Tensor]:
    # timm's init: zero last BatchNorms, which no re-initialisation may bring back to 1.
    torch.manual_seed(1)
    return timm.create_model(BACKBONE, num_classes=0, in_chans=in_chans).state_dict()


@pytest.mark.parametrize('init', ['torchvision', 'timm'])
def test_weights_overwrite_the_init(init: str, tmp_path: Path) -> None:
    saved = _timm_state()
    path = tmp_path / 'trunk.pth'
    torch.save(saved, path)
    trunk = create_trunk(BACKBONE, 3, str(path), init=init)  # type: ignore[arg-type]
    for key, value in saved.items():
        torch.testing.assert_close(trunk.state_dict()[key], value)


def test_timm_pretrained_weights_are_not_reinitialised(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    saved = _timm_state()
    path = tmp_path / 'timm.pth'
    torch.save(saved, path)
    create_model = timm.create_model

    def offline(name: str, **kwargs: object) -> nn.Module:
        return create_model(name, pretrained_cfg_overlay={'file': str(path)}, **kwargs)

    monkeypatch.setattr(timm, 'create_model', offline)
    trunk = create_trunk(BACKBONE, 3, True)
    for key, value in saved.items():
        torch.testing.assert_close(trunk.state_dict()[key], value)


def test_unknown_backbone() -> None:
    with pytest.raises(ValueError, match='unknown timm backbone'):
        create_trunk('resnet_does_not_exist', 3)


def test_tagged_timm_name() -> None:
    # A pretrained tag names the architecture too; nothing is downloaded without weights.
    trunk = create_trunk('resnet18.a1_in1k', 2)
    assert trunk.num_features == 512
    assert trunk.conv1.in_channels == 2


def test_bad_weights_string() -> None:
    with pytest.raises(ValueError, match='neither a file nor a TorchGeo weight'):
        create_trunk(BACKBONE, 3, 'no/such/weights.pth')


def test_weights_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    saved = timm.create_model(BACKBONE, in_chans=3).state_dict()
    prefixed = tmp_path / 'prefixed.pth'
    torch.save({f'backbone.{k}': v for k, v in saved.items()}, prefixed)
    with pytest.raises(ValueError, match='not a test_resnet state dict'):
        create_trunk(BACKBONE, 3, str(prefixed))
    partial = tmp_path / 'partial.pth'
    torch.save({k: v for k, v in saved.items() if not k.startswith('layer1')}, partial)
    with pytest.raises(ValueError, match='weights missing'):
        create_trunk(BACKBONE, 3, str(partial))
    reshaped = tmp_path / 'reshaped.pth'
    torch.save({**saved, 'layer1.0.conv1.weight': torch.zeros(1)}, reshaped)
    with pytest.raises(ValueError, match=r'do not fit .*layer1\.0\.conv1\.weight'):
        create_trunk(BACKBONE, 3, str(reshaped))
    text = tmp_path / 'notes.txt'
    text.write_text('not weights')
    with pytest.raises(
        ValueError, match=r'notes\.txt: not a file written by torch\.save'
    ):
        create_trunk(BACKBONE, 3, str(text))
    lightning_form = tmp_path / 'lightning.ckpt'
    torch.save({'state_dict': saved}, lightning_form)
    trunk = create_trunk(BACKBONE, 3, str(lightning_form))
    first = next(iter(saved))
    torch.testing.assert_close(trunk.state_dict()[first], saved[first])


@pytest.fixture(scope='module')
def torchgeo_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of TorchGeo's Classification task, saved by a Lightning Trainer."""
    root = tmp_path_factory.mktemp('torchgeo')
    task = Classification(model=BACKBONE, in_channels=3, num_classes=4)
    # Two batches, one step: it stops before the epoch's end, where the task's
    # ReduceLROnPlateau would ask for a validation loss.
    data = [
        {'image': torch.randn(3, 16, 16), 'label': torch.tensor(i % 4)}
        for i in range(8)
    ]
    trainer = lightning.Trainer(
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'You defined a `validation_step`')
        trainer.fit(task, DataLoader(data, batch_size=4))
    path = root / 'classification.ckpt'
    trainer.save_checkpoint(path)
    return path


def test_torchgeo_classification_checkpoint(torchgeo_checkpoint: Path) -> None:
    ckpt = torch.load(torchgeo_checkpoint, weights_only=True)
    expected = {
        k.removeprefix('model.'): v
        for k, v in ckpt['state_dict'].items()
        if not k.startswith('model.fc.')
    }
    trunk = create_trunk(BACKBONE, 3, str(torchgeo_checkpoint))
    assert trunk.state_dict().keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(trunk.state_dict()[key], value)
    # Another channel count keeps everything but the input layer.
    with pytest.warns(UserWarning, match='input layer for 3 channels'):
        sar = create_trunk(BACKBONE, 2, str(torchgeo_checkpoint))
    torch.testing.assert_close(
        sar.layer4[0].conv2.weight, expected['layer4.0.conv2.weight']
    )


def test_torchgeo_checkpoint_of_another_backbone(torchgeo_checkpoint: Path) -> None:
    with pytest.raises(
        ValueError, match="checkpoint of 'test_resnet', not of 'resnet18'"
    ):
        create_trunk('resnet18', 3, str(torchgeo_checkpoint))


@pytest.mark.parametrize('name', ['test_convnext', 'test_vit', 'test_efficientnet'])
def test_weights_of_other_architectures(name: str, tmp_path: Path) -> None:
    # Heads that are modules (ConvNeXt) and stems that are not the first key (ViT).
    saved = timm.create_model(name, num_classes=0, in_chans=3).state_dict()
    path = tmp_path / f'{name}.pth'
    torch.save(saved, path)
    trunk = create_trunk(name, 3, str(path))
    for key, value in saved.items():
        torch.testing.assert_close(trunk.state_dict()[key], value)
    with pytest.warns(
        UserWarning, match='input layer for 3 channels, the sensor has 5'
    ):
        other = create_trunk(name, 5, str(path))
    stem = next(n for n, m in other.named_modules() if isinstance(m, nn.Conv2d))
    for key, value in saved.items():
        if key != f'{stem}.weight':
            torch.testing.assert_close(other.state_dict()[key], value)


def test_feature_dim_is_the_trunks_num_features() -> None:
    trunk = create_trunk('resnet18', 3, init='timm')
    assert feature_dim(trunk) == 512


def test_feature_dim_refuses_a_module_without_num_features() -> None:
    with pytest.raises(TypeError, match='Linear does not state its feature size'):
        feature_dim(nn.Linear(2, 2))
