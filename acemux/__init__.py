"""acemux: a fan-out proxy for AceStream engines."""

__version__ = "0.1.0"
