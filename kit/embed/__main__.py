"""``python -m kit.embed`` (also under ``accelerate launch -m kit.embed``): see :mod:`kit.embed.cli`."""

import sys

from kit.cli_args import one_line
from kit.embed.cli import main
from kit.errors import KitError

try:
    sys.exit(main())
except KitError as e:
    print(f"kit: error: {one_line(e)}", file=sys.stderr)
    sys.exit(2)
