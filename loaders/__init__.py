"""The built-in loaders, one module per source kind.

Each loader module declares its ``LOADER`` (a :class:`twin.registry.LoaderSpec`: kind, suffixes,
typed options, ``sniff`` and ``load``); ``pyproject.toml`` lists them as ``cim_twin.loaders``
entry points, which is how the core finds them (``twin.registry.installed``).
"""
