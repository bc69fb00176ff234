"""`python -m ldirectorpy` is the same as the `ldirectorpy` command."""

import sys

from ldirectorpy.cli import main

sys.exit(main())
