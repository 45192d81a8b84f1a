"""labelaudit: audit supplement label files against the calcium + vitamin K2 protocol."""

__version__ = "0.1.0"
