"""The app's panels as small components: each builds its part of the layout from client state."""


def js(function: str, *args: str) -> str:
    """A call of a browser helper (``twin/faces/app/client.js``) from a template event."""
    return f"window.twinUI.{function}({', '.join(('trame', *args))})"


def testid(value: str, bound: bool = False) -> str:
    """A ``data-testid`` attribute (trame drops unknown keyword attributes), static or bound to JS."""
    return f':data-testid="{value}"' if bound else f'data-testid="{value}"'
