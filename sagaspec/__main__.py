from sagaspec.cli import main

main(prog_name="sagaspec")
