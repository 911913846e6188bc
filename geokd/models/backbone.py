"""Feature trunks (timm backbones without their classifier) with optional TorchGeo weights."""

import os
import pickle
import warnings
from typing import Literal, TypeAlias

import timm
import torch
from timm.models import split_model_name_tag
from torch import Tensor, nn
from torchvision.models._api import WeightsEnum

# (A TypeAlias, not a PEP 695 alias: the models' signatures, which LightningCLI
# reads, keep a plain Union at run time.)
#: What a weights argument may be: a TorchGeo weight enum, its name as a string
#: (``'ResNet18_Weights.SENTINEL2_ALL_MOCO'``), a path to a state dict or to a
#: Lightning checkpoint (a TorchGeo ``ClassificationTask``'s included), True for timm's
#: own pretrained weights, or None / False for random initialisation.
Weights: TypeAlias = WeightsEnum | str | bool | None  # noqa: UP040

#: How a trunk without pretrained weights starts, see :func:`create_trunk`.
TrunkInit = Literal['torchvision', 'timm']


def torchvision_init(module: nn.Module) -> None:
    """Initialise convolutions and normalisations as torchvision's ResNet does.

    The rule of ``torchvision.models.ResNet.__init__`` (with its default
    ``zero_init_residual=False``): every ``Conv2d`` weight kaiming-normal with fan-out
    mode and ReLU gain, every ``BatchNorm2d`` and ``GroupNorm`` weight 1 and bias 0.
    Other layers keep their initialisation.

    Args:
        module: Network to initialise in place.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm) and m.weight is not None:
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


def feature_dim(trunk: nn.Module) -> int:
    """Size of the feature vector of a trunk built by :func:`create_trunk`.

    Args:
        trunk: A timm backbone.

    Returns:
        Its ``num_features``.

    Raises:
        TypeError: If the module does not state its feature size.
    """
    dim = getattr(trunk, 'num_features', None)
    if not isinstance(dim, int):
        msg = f'{type(trunk).__name__} does not state its feature size (num_features)'
        raise TypeError(msg)
    return dim


def create_trunk(
    name: str, in_chans: int, weights: Weights = None, init: TrunkInit = 'torchvision'
) -> nn.Module:
    """Build a timm backbone that maps an image to a pooled feature vector.

    ``init`` sets how a trunk starts before any weights are loaded. ``'torchvision'``
    (the reference code's, which builds torchvision's ResNet-18) applies
    :func:`torchvision_init` to the whole trunk, whatever the architecture, then gives
    the first convolution PyTorch's default ``nn.Conv2d`` initialisation, as the
    reference's replacement of ``conv1`` for the sensor's channel count has. For a timm
    ResNet this is exactly torchvision's ResNet initialisation: timm draws the
    convolutions by the same rule but zero-initialises the last BatchNorm of every
    residual block (``zero_init_last``), which this undoes. Other architectures get
    the same rule, not their own (e.g. depthwise convolutions are drawn with the full
    fan-out); ``'timm'`` keeps the initialisation timm gives the architecture. Weights
    overwrite the initialisation, and timm's pretrained weights (``weights=True``) are
    never re-initialised.

    Args:
        name: Any timm model name, tags included (``'resnet18'`` in the reference,
            ``'resnet18.a1_in1k'``).
        in_chans: Number of input channels of the sensor.
        weights: Initial weights, see :data:`Weights`.
        init: Initialisation of a trunk without pretrained weights, ``'torchvision'``
            or ``'timm'``.

    Returns:
        A module mapping ``(B, in_chans, H, W)`` to ``(B, num_features)``; its
        ``num_features`` attribute gives the feature size.

    Raises:
        ValueError: If ``name`` is not a timm model, ``init`` is unknown, ``weights``
            is a string that is neither a file nor a TorchGeo weight name, or the
            weights do not fit the backbone.
    """
    if not timm.is_model(name):
        msg = f'unknown timm backbone {name!r}'
        raise ValueError(msg)
    if init not in ('torchvision', 'timm'):
        msg = f"unknown trunk init {init!r}: 'torchvision' or 'timm'"
        raise ValueError(msg)
    trunk = timm.create_model(
        name, num_classes=0, in_chans=in_chans, pretrained=weights is True
    )
    if weights is True:
        return trunk
    if init == 'torchvision':
        torchvision_init(trunk)
        # The reference replaces torchvision's first convolution by a new nn.Conv2d
        # for the sensor's channels, which keeps PyTorch's default initialisation.
        stem = next(m for m in trunk.modules() if isinstance(m, nn.Conv2d))
        stem.reset_parameters()
    if weights is None or weights is False:
        return trunk
    if isinstance(weights, WeightsEnum):
        state_dict = weights.get_state_dict(progress=True, weights_only=True)
    elif os.path.isfile(weights):
        state_dict = _read_weights_file(weights, name)
    else:
        try:
            # Imported here: torchgeo.models imports Lightning, which prediction never needs.
            from torchgeo.models import get_weight

            enum = get_weight(weights)
        except (ValueError, KeyError) as err:
            msg = f'weights {weights!r} are neither a file nor a TorchGeo weight name'
            raise ValueError(msg) from err
        state_dict = enum.get_state_dict(progress=True, weights_only=True)
    _load_trunk_weights(trunk, state_dict, str(weights), name)
    return trunk


def _read_weights_file(path: str, name: str) -> dict[str, Tensor]:
    """Read trunk weights from a state dict or a Lightning checkpoint file.

    Args:
        path: File written by ``torch.save``; only tensors and plain containers are
            unpickled.
        name: timm model name of the trunk the weights are for.

    Returns:
        The state dict, unprefixed when the file is a TorchGeo task checkpoint.

    Raises:
        ValueError: If the file is not a readable state dict, or is a TorchGeo
            checkpoint of another architecture.
    """
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError) as err:
        msg = f'weights {path}: not a file written by torch.save'
        raise ValueError(msg) from err
    if not isinstance(checkpoint, dict):
        msg = f'weights {path}: not a state dict'
        raise ValueError(msg)
    hparams = checkpoint.get('hyper_parameters')
    if isinstance(hparams, dict) and {'model', 'backbone'} & set(hparams):
        # A TorchGeo task: torchgeo strips its 'model.' prefixes (reads the file again).
        from torchgeo.tasks.utils import extract_backbone

        source, state_dict = extract_backbone(path)
        if isinstance(source, str) and (
            split_model_name_tag(source)[0] != split_model_name_tag(name)[0]
        ):
            msg = f'weights {path}: a checkpoint of {source!r}, not of {name!r}'
            raise ValueError(msg)
        return state_dict
    if isinstance(checkpoint.get('state_dict'), dict):  # a Lightning checkpoint
        lightning_state: dict[str, Tensor] = checkpoint['state_dict']
        return lightning_state
    return checkpoint


def _load_trunk_weights(
    trunk: nn.Module, state_dict: dict[str, Tensor], source: str, name: str
) -> None:
    """Load a state dict into a trunk, refusing any that does not fill it.

    Args:
        trunk: timm backbone without classifier.
        state_dict: Its weights; the input layer (the first convolution) may differ
            in channel count (it is then left as initialised, with a warning), keys
            the trunk lacks (a task head) are ignored.
        source: Where the weights came from, for error messages.
        name: timm model name of the trunk.

    Raises:
        ValueError: If the state dict lacks the input layer or other weights of the
            trunk, or holds them in other shapes.
    """
    expected = trunk.state_dict()
    stem = next((n for n, m in trunk.named_modules() if isinstance(m, nn.Conv2d)), None)
    input_key = f'{stem}.weight' if stem else next(iter(expected))
    if input_key not in state_dict:
        msg = f'weights {source}: no {input_key!r}, not a {name} state dict'
        raise ValueError(msg)
    state_dict = {k: v for k, v in state_dict.items() if k in expected}
    given, needed = state_dict[input_key].shape[1], expected[input_key].shape[1]
    if given != needed:
        # As torchgeo does: another sensor's input layer is left as initialised.
        msg = (
            f'weights {source}: input layer for {given} channels, the sensor has '
            f'{needed}: it starts as initialised'
        )
        warnings.warn(msg, stacklevel=3)
        del state_dict[input_key]
    try:
        missing, _ = trunk.load_state_dict(state_dict, strict=False)
    except RuntimeError as err:  # shapes that differ, beyond the input channels
        detail = str(err).strip().splitlines()[-1].strip()
        msg = f'weights {source}: do not fit {name} ({detail})'
        raise ValueError(msg) from err
    missing = [k for k in missing if k != input_key]
    if missing:
        msg = (
            f'weights {source}: {len(missing)} {name} weights missing from them '
            f'(e.g. {missing[0]!r}); prefixed keys? nothing was loaded silently'
        )
        raise ValueError(msg)
