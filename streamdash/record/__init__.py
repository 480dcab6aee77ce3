"""Recording and replay: Snapshots stored over time (``streamdash record`` / ``replay``)."""
