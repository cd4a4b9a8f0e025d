"""`python -m transfer_gui`: same as the `transfer-gui` command."""

import sys

from transfer_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
