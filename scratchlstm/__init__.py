"""scratchlstm: LSTM language models written from scratch in NumPy, running unchanged on CuPy.

The names most programs need are importable from here::

    from scratchlstm import LSTMLanguageModel, Adam, clip_grad_norm, softmax_cross_entropy

The forward/backward pairs live in :mod:`scratchlstm.nn.functional`, the device switch in
:mod:`scratchlstm.backend`, the finite-difference checks in :mod:`scratchlstm.gradcheck`.
"""
__version__ = "0.1.0"

from .backend import (DeviceError, get_array_module, gpu_available, resolve_device, to_device,
                      to_host)
from .gradcheck import check_function, check_model, numerical_gradient, relative_error
from .models import LSTMLanguageModel
from .nn.fast import softmax_cross_entropy
from .nn.layers import LSTM, Dropout, Embedding, Linear
from .nn.module import Module, Parameter
from .optim import (SGD, Adam, AdamW, EarlyStopping, EpochDecay, ReduceLROnPlateau, WarmupCosine,
                    clip_grad_norm, grad_norm)

__all__ = [
    "__version__", "DeviceError", "get_array_module", "gpu_available", "resolve_device",
    "to_device", "to_host", "check_function", "check_model", "numerical_gradient",
    "relative_error", "LSTMLanguageModel", "softmax_cross_entropy", "LSTM", "Dropout",
    "Embedding", "Linear", "Module", "Parameter", "SGD", "Adam", "AdamW", "EarlyStopping",
    "EpochDecay", "ReduceLROnPlateau", "WarmupCosine", "clip_grad_norm", "grad_norm",
]
