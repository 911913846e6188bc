from pathlib import Path

import pytest
import timm
import torch
from torchgeo.models import ResNet18_Weights

from geokd.models import DisCoMKD, ModalityBranch, create_trunk

BACKBONE = 'test_resnet'  # timm's tiny ResNet: 96 features, so 48-d embeddings


@pytest.mark.parametrize(
    ('in_channels', 'backbone'),
    [
        ({'ms': 13, 'sar': 2}, BACKBONE),
        ({'rgb': 3, 'depth': 1, 'thermal': 1}, BACKBONE),
        ({'a': 4, 'b': 7, 'c': 2}, 'test_efficientnet'),
    ],
)
def test_shapes(in_channels: dict[str, int], backbone: str) -> None:
    k = 5
    model = DisCoMKD(in_channels, k, backbone=backbone)
    batch = {
        m: torch.randn(3 + i, c, 32, 32) for i, (m, c) in enumerate(in_channels.items())
    }
    outputs = model(batch)
    assert list(outputs) == list(in_channels)
    d = model.branches[next(iter(in_channels))].embed_dim
    for (m, x), num_m in zip(
        batch.items(), [len(in_channels)] * len(batch), strict=False
    ):
        out = outputs[m]
        n = len(x)
        for z in (out.z_inv, out.z_inf, out.z_irr):
            assert z.shape == (n, d)
        assert out.logits.shape == out.aux_inv.shape == out.aux_inf.shape == (n, k)
        assert out.mod_inf.shape == out.mod_irr.shape == out.mod_adv.shape == (n, num_m)


def test_reference_sizes() -> None:
    model = DisCoMKD({'ms': 13, 'sar': 2}, 10)
    branch = model.branches['sar']
    assert branch.embed_dim == 256
    assert branch.e_inv.conv1.in_channels == 2
    assert branch.e_inv.conv1.kernel_size == (7, 7)
    assert branch.head.in_features == 512
    assert model.aux_head.in_features == 256
    assert model.d_adv.out_features == 2


def test_batchnorm_statistics_stay_per_modality() -> None:
    # Issue 17 asked whether BatchNorm mixes the sensors' statistics: it cannot. Every
    # BatchNorm lives in one modality's branch, the shared heads hold none, and a
    # training step on SAR alone leaves every Sentinel-2 running statistic untouched.
    model = DisCoMKD({'ms': 13, 'sar': 2}, 10, backbone=BACKBONE)
    shared = [model.aux_head, model.d_inf, model.d_irr, model.d_adv]
    norms = (torch.nn.modules.batchnorm._NormBase, torch.nn.GroupNorm)
    assert not [m for head in shared for m in head.modules() if isinstance(m, norms)]
    before = {k: v.clone() for k, v in model.branches['ms'].state_dict().items()}
    sar_bn = {k: v.clone() for k, v in model.branches['sar'].state_dict().items()}
    model.train()
    model({'sar': 5 * torch.randn(8, 2, 32, 32) + 3})
    after = model.branches['ms'].state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    moved = [
        k
        for k, v in model.branches['sar'].state_dict().items()
        if k.endswith('running_mean') and not torch.equal(v, sar_bn[k])
    ]
    assert moved  # the SAR branch's own statistics did move


def test_needs_two_modalities() -> None:
    with pytest.raises(ValueError, match='at least two'):
        DisCoMKD({'sar': 2}, 10, backbone=BACKBONE)


def test_extracted_classifier_matches_full_model() -> None:
    torch.manual_seed(0)
    model = DisCoMKD({'ms': 13, 'sar': 2}, 10, backbone=BACKBONE)
    # Move BatchNorm statistics away from their initial values first.
    model.train()
    model({'ms': torch.randn(8, 13, 32, 32), 'sar': torch.randn(8, 2, 32, 32)})
    model.eval()
    sar = torch.randn(4, 2, 32, 32)
    with torch.no_grad():
        expected = model({'ms': torch.randn(4, 13, 32, 32), 'sar': sar})['sar'].logits
        classifier = model.extract('sar')
        assert isinstance(classifier, ModalityBranch)
        assert not classifier.training
        torch.testing.assert_close(classifier(sar), expected)
    # Independent copy: changing the full model leaves the classifier alone.
    with torch.no_grad():
        model.branches['sar'].head.weight.add_(1.0)
        torch.testing.assert_close(classifier(sar), expected)
    with pytest.raises(KeyError, match='no modality'):
        model.extract('thermal')


def test_torchgeo_weights_enum(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A state dict shaped like the SSL4EO-S12 ResNet-18 weights, served offline.
    saved = timm.create_model('resnet18', in_chans=13).state_dict()
    path = tmp_path / 'resnet18_sentinel2_all_moco.pth'
    torch.save(saved, path)

    def load(url: str, *args: object, **kwargs: object) -> dict[str, torch.Tensor]:
        return torch.load(path, weights_only=True)

    monkeypatch.setattr('torchvision.models._api.load_state_dict_from_url', load)
    weights = ResNet18_Weights.SENTINEL2_ALL_MOCO
    model = DisCoMKD({'ms': 13, 'sar': 2}, 10, weights={'ms': weights})
    for trunk in (model.branches['ms'].e_inv, model.branches['ms'].e_spec):
        torch.testing.assert_close(trunk.conv1.weight, saved['conv1.weight'])
        torch.testing.assert_close(
            trunk.layer4[1].bn2.weight, saved['layer4.1.bn2.weight']
        )
    assert not torch.equal(
        model.branches['sar'].e_inv.layer1[0].conv1.weight,
        saved['layer1.0.conv1.weight'],
    )
    # The same weights by name and by file.
    by_name = create_trunk('resnet18', 13, 'ResNet18_Weights.SENTINEL2_ALL_MOCO')
    by_file = create_trunk('resnet18', 13, str(path))
    for trunk in (by_name, by_file):
        torch.testing.assert_close(trunk.conv1.weight, saved['conv1.weight'])
