"""The `transfer-gui` commands behind `transfer_gui.cli`: the core only, never Qt.

Each `cmd_*` function takes the parsed command line and returns an exit code; heavy core modules
(torch and the models) are imported inside the commands, so `--help` stays fast.
"""
