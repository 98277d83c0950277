"""The faces of CIM Twin: the browser app (trame), the REST API (aiohttp) and the ``twin`` command.

The only code that imports trame or aiohttp; it builds on the core model (:mod:`twin`) and the
risk side (:mod:`twin.risk`), never the other way round.
"""
