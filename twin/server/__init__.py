"""Server pieces that do not depend on trame: access control for the HTTP and websocket layer."""
