from logkit.cli import main

main(prog_name="logkit")
