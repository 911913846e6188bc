"""Feature trunks (timm backbones without their classifier) with optional TorchGeo weights."""

import os

import timm
import torch
from torch import nn
from torchgeo.models import get_weight
from torchgeo.tasks import utils as tg_utils
from torchvision.models._api import WeightsEnum

#: What a weights argument may be: a TorchGeo weight enum, its name as a string
#: (``'ResNet18_Weights.SENTINEL2_ALL_MOCO'``), a path to a state dict, True for timm's
#: own pretrained weights, or None / False for random initialisation.
Weights = WeightsEnum | str | bool | None


def create_trunk(name: str, in_chans: int, weights: Weights = None) -> nn.Module:
    """Build a timm backbone that maps an image to a pooled feature vector.

    Args:
        name: Any timm model name (``'resnet18'`` in the reference).
        in_chans: Number of input channels of the sensor.
        weights: Initial weights, see :data:`Weights`.

    Returns:
        A module mapping ``(B, in_chans, H, W)`` to ``(B, num_features)``; its
        ``num_features`` attribute gives the feature size.

    Raises:
        ValueError: If ``name`` is not a timm model, ``weights`` is a string that
            is neither a file nor a TorchGeo weight name, or the weights do not fit
            the backbone.
    """
    if name not in timm.list_models():
        msg = f'unknown timm backbone {name!r}'
        raise ValueError(msg)
    trunk = timm.create_model(
        name, num_classes=0, in_chans=in_chans, pretrained=weights is True
    )
    if weights is None or isinstance(weights, bool):
        return trunk
    if isinstance(weights, WeightsEnum):
        state_dict = weights.get_state_dict(progress=True, weights_only=True)
    elif os.path.isfile(weights):
        state_dict = torch.load(weights, map_location='cpu', weights_only=True)
    else:
        try:
            enum = get_weight(weights)
        except (ValueError, KeyError) as err:
            msg = f'weights {weights!r} are neither a file nor a TorchGeo weight name'
            raise ValueError(msg) from err
        state_dict = enum.get_state_dict(progress=True, weights_only=True)
    if isinstance(state_dict.get('state_dict'), dict):  # a Lightning checkpoint
        state_dict = state_dict['state_dict']
    input_key = next(iter(trunk.state_dict()))
    if input_key not in state_dict:
        msg = f'weights {weights!s}: no {input_key!r}, not a {name} state dict'
        raise ValueError(msg)
    try:
        missing, _ = tg_utils.load_state_dict(trunk, state_dict)
    except KeyError as err:
        msg = f'weights {weights!s}: incomplete {name} state dict (no {err})'
        raise ValueError(msg) from err
    # torchgeo drops the input layer when the channel counts differ: that one may miss.
    missing = [k for k in missing if k != input_key]
    if missing:
        msg = (
            f'weights {weights!s}: {len(missing)} {name} weights missing from them '
            f'(e.g. {missing[0]!r}); prefixed keys? nothing was loaded silently'
        )
        raise ValueError(msg)
    return trunk
