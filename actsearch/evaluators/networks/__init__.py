"""The child networks the evaluators train, grouped by kind; every one takes an activation factory.

- :mod:`~actsearch.evaluators.networks.init`: hidden-layer initialisation (``INITS``) and ``ActFactory``;
- :mod:`~actsearch.evaluators.networks.mlp`: plain MLPs;
- :mod:`~actsearch.evaluators.networks.convnets`: plain 1-D CNNs;
- :mod:`~actsearch.evaluators.networks.resnets`: 1-D ResNets (batch norm, layer norm) and ResNet-20;
- :mod:`~actsearch.evaluators.networks.transformers`: a small 1-D vision transformer.
"""

from actsearch.evaluators.networks.convnets import ConvNet1d
from actsearch.evaluators.networks.init import INITS, ActFactory, init_hidden
from actsearch.evaluators.networks.mlp import MLP
from actsearch.evaluators.networks.resnets import NORMS, LNResNet1d, ResNet1d, ResNet20
from actsearch.evaluators.networks.transformers import ViT1d

__all__ = ["INITS", "MLP", "NORMS", "ActFactory", "ConvNet1d", "LNResNet1d", "ResNet1d", "ResNet20", "ViT1d",
           "init_hidden"]
