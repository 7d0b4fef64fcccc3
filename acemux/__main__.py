import sys

from acemux.cli import main

sys.exit(main())
