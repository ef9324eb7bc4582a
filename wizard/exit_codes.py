"""The command line's exit codes."""

EXIT_OK = 0  # done
EXIT_REFUSED = 1  # the input was refused (the reason is printed)
EXIT_USAGE = 2  # the command line was wrong
EXIT_STORE = 3  # a store problem (locked, read-only, full, newer schema) or an unexpected error
EXIT_CANCELLED = 130  # Ctrl-C: rolled back and audited
