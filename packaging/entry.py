"""PyInstaller's entry script for both executables (the windowed app and the console one)."""

import multiprocessing

if __name__ == "__main__":
    # First thing: a frozen child process started by multiprocessing must not run the app again.
    multiprocessing.freeze_support()
    from transfer_gui.launcher import run

    run()
