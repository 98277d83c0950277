"""The CIM Twin browser app: the thin entry the design card names (``python app.py [PATH]``).

Everything lives in the package: :mod:`twin.faces.app.application` holds the trame app, and
this is the same as ``twin serve [PATH]``.
"""

import sys

from twin.faces.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
