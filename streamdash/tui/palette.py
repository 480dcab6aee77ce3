"""Rich styles derived from the active Textual theme, for cells and text built in code.

TCSS uses theme ``$variables``; Rich ``Text`` built in Python needs concrete colours, so
panels ask for a ``Palette`` and rebuild their text when the theme changes. Every style
also carries a non-colour cue (bold / reverse) so NO_COLOR terminals still show it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Palette:
    warning: str
    error: str
    success: str
    accent: str
    muted: str

    def severity(self, severity: str) -> str:
        """Style of a finding severity: critical, warning, info (anything else: muted)."""
        if severity == "critical":
            return self.error
        if severity == "warning":
            return self.warning
        if severity == "info":
            return self.accent
        return self.muted

    def utilization(self, value: float | None, warn: float, critical: float) -> str:
        """Style for a 0..1 utilization against warning / critical thresholds."""
        if value is None:
            return self.muted
        if value >= critical:
            return self.error
        if value >= warn:
            return self.warning
        return self.success


def palette_from(variables: Mapping[str, str]) -> Palette:
    """Build from ``App.theme_variables`` (missing keys fall back to plain styles)."""

    def colour(key: str) -> str:
        value = variables.get(key, "")
        return value if value.startswith("#") else ""

    return Palette(
        warning=f"bold {colour('warning')}".strip(),
        error=f"bold {colour('error')}".strip(),
        success=colour("success") or "none",
        accent=colour("primary") or "none",
        muted=f"dim {colour('foreground')}".strip(),
    )
