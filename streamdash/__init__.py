"""streamdash: a terminal dashboard for LLM services that stream tokens."""

__version__ = "0.1.0"
