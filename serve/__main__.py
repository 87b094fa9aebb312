import sys

from khulasa.serve.cli import main

sys.exit(main())
