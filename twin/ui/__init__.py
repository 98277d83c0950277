"""The browser app's user interface: the only part of ``twin`` that imports trame.

``twin.ui.app.TwinUI`` wires a :class:`twin.Twin` to a trame server: a pool of per-browser views
(:mod:`twin.ui.views`), the triggers every browser calls (:mod:`twin.ui.actions`) and the layout
with its panels (:mod:`twin.ui.layout`, :mod:`twin.ui.panels`).
"""
