"""The bundled program's entry script: PyInstaller runs this file as `__main__`.

Same behaviour as `python -m wizard` and the `agentmemory-wizard` command: no arguments or file
arguments open the wizard, subcommands are the CLI, `--version` and `--self-test` work too.
"""

import sys

from wizard.main import main

if __name__ == "__main__":
    sys.exit(main())
