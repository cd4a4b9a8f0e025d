"""`python -m transfer_gui`: same as the `transfer-gui` command."""

from transfer_gui.launcher import run

if __name__ == "__main__":
    run()
