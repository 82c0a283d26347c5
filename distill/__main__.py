"""`python -m distill` → distill.cli."""

import sys

from distill.cli import main

sys.exit(main())
