"""Colour tables of the scene: utility networks, point classes and colouring by attribute."""
