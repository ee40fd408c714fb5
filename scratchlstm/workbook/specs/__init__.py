"""The rungs of every workbook function, by name (see :mod:`scratchlstm.workbook.ladder`)."""
from ..catalogue import FUNCTIONS
from . import layers, optim, recurrent, text, train

SPECS = {**layers.SPECS, **recurrent.SPECS, **optim.SPECS, **text.SPECS, **train.SPECS}

assert set(SPECS) == set(FUNCTIONS), set(SPECS) ^ set(FUNCTIONS)
