"""``python -m logkit``: the command line (logkit.cli)."""
from logkit.cli import main

main(prog_name="logkit")
