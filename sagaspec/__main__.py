try:
    from sagaspec.cli import entry
except KeyboardInterrupt:  # Ctrl-C while the command line loads: one line, not a traceback
    import sys

    sys.stderr.write("interrupted (SIGINT) while starting: nothing was run\n")
    sys.exit(130)

entry()
