"""The browser app's user interface: the only part of ``twin`` that imports trame.

``twin.faces.app.app.TwinUI`` wires a :class:`twin.Twin` to a trame server: a pool of per-browser views
(:mod:`twin.faces.app.client_views`), the triggers every browser calls (:mod:`twin.faces.app.actions`) and the layout
with its panels (:mod:`twin.faces.app.layout`, :mod:`twin.faces.app.panels`).
"""
