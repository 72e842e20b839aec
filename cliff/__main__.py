"""`python -m cliff ...` is the same as the `cliff` command."""
import sys

from .cli import main

sys.exit(main())
