"""Underground pipe networks: one module per format, one shared builder (see build.py)."""
