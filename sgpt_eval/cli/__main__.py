"""`python -m sgpt_eval.cli`: the same as the `sgpt-eval` command."""

import sys

from . import main

sys.exit(main())
