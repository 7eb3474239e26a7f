import sys

from drimva.cli import main

sys.exit(main())
