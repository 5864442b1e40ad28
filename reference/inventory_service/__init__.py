"""Python reference implementation of the Inventory Enterprise service."""

__version__ = "2.1.0"
