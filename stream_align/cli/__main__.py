"""``python -m stream_align.cli``: the same as the ``stream-align`` console script."""

import sys

from stream_align.cli import main

sys.exit(main())
