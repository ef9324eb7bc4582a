"""The command line's exit codes."""

EXIT_OK = 0  # done
EXIT_REFUSED = 1  # the input was refused (the reason is printed)
EXIT_USAGE = 2  # the command line was wrong
EXIT_STORE = 3  # a store problem (locked, read-only, full, newer schema) or an unexpected error
EXIT_UNREACHABLE = 4  # deliver: the server did not answer, or refused the secret
EXIT_INCOMPLETE = 5  # deliver: delivered, but incomplete or not verified (too big, missing)
EXIT_CANCELLED = 130  # Ctrl-C: rolled back and audited
