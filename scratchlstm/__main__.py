"""``python -m scratchlstm``: see :mod:`scratchlstm.cli`."""
import sys

from .cli import main

sys.exit(main())
