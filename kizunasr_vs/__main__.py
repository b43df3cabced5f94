"""`python -m kizunasr_vs` runs the `kizunasr` command line."""

import sys

from kizunasr_vs.cli import main

sys.exit(main())
