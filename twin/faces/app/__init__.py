"""The browser app: the only part of ``twin`` that imports trame.

:class:`twin.faces.app.application.TwinApp` wires a :class:`twin.Twin` to a trame server: a pool of
per-browser views (:mod:`twin.faces.app.client_views`), the state every browser starts from
(:mod:`twin.faces.app.state`), the triggers every browser calls, one module per feature
(:mod:`twin.faces.app.actions` lists them), and the layout with its panels
(:mod:`twin.faces.app.layout`, :mod:`twin.faces.app.panels`).
"""
