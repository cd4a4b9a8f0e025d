"""`python -m transfer_gui`: same as the `transfer-gui` command."""

import sys

from transfer_gui.launcher import main

if __name__ == "__main__":
    sys.exit(main())
