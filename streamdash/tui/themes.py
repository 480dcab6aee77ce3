"""Theme files: one YAML (or TOML) file per theme, loaded into ``textual.theme.Theme``.

Search order: the themes shipped with streamdash (``<repo>/themes``), then the user's
``$XDG_CONFIG_HOME/streamdash/themes`` (default ``~/.config/streamdash/themes``); a user
file with the same theme name replaces the shipped one. A bad file never stops the app:
it is skipped and reported as one line naming the file and what is wrong.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from textual.color import Color, ColorParseError
from textual.theme import Theme

DEFAULT_THEME = "streamdash-dark"
_SOURCE_THEMES = Path(__file__).resolve().parents[2] / "themes"
_INSTALLED_THEMES = Path(sys.prefix) / "share" / "streamdash" / "themes"
BUNDLED_DIR = _SOURCE_THEMES if _SOURCE_THEMES.is_dir() else _INSTALLED_THEMES
"""The repository's themes/ (a checkout or editable install), else the copy a wheel
installs under ``<prefix>/share/streamdash/themes``."""
_COLOURS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_SUFFIXES = (".yaml", ".yml", ".toml")


class ThemeFileError(ValueError):
    """A theme file that cannot be used; the message is one line naming the file."""


@dataclass(frozen=True)
class LoadedThemes:
    """Themes in load order (shipped first), and one line per file that was skipped."""

    themes: tuple[Theme, ...]
    problems: tuple[str, ...]


def user_theme_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/streamdash/themes`` (``~/.config`` when unset)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "streamdash" / "themes"


def _read_mapping(path: Path) -> Mapping[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ThemeFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        data: object = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ThemeFileError(f"{path}: not valid {path.suffix[1:].upper()}: {first}") from None
    if not isinstance(data, Mapping):
        raise ThemeFileError(f"{path}: expected a mapping of theme keys")
    return data


def _colour(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f"{path}: '{key}' must be a colour string")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{path}: '{key}' is not a colour: {value!r}") from None
    return value


def load_theme_file(path: Path) -> Theme:
    """Parse one theme file; raise ``ThemeFileError`` (one line) when it is unusable."""
    data = _read_mapping(path)
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError(f"{path}: 'name' must be a non-empty string")
    if "primary" not in data:
        raise ThemeFileError(f"{path}: 'primary' colour is required")
    unknown = sorted(set(data) - {*_COLOURS, "name", "dark", "variables"})
    if unknown:
        raise ThemeFileError(f"{path}: unknown key(s): {', '.join(map(str, unknown))}")
    colours = {k: _colour(path, k, data[k]) for k in _COLOURS if k in data}
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeFileError(f"{path}: 'dark' must be true or false")
    raw_vars = data.get("variables") or {}
    if not isinstance(raw_vars, Mapping):
        raise ThemeFileError(f"{path}: 'variables' must be a mapping")
    variables = {str(k): str(v) for k, v in raw_vars.items()}
    return Theme(
        name=name.strip(),
        primary=colours["primary"],
        secondary=colours.get("secondary"),
        accent=colours.get("accent"),
        warning=colours.get("warning"),
        error=colours.get("error"),
        success=colours.get("success"),
        foreground=colours.get("foreground"),
        background=colours.get("background"),
        surface=colours.get("surface"),
        panel=colours.get("panel"),
        boost=colours.get("boost"),
        dark=dark,
        variables=variables,
    )


def _theme_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in _SUFFIXES and p.is_file())


def load_themes(directories: Iterable[Path] | None = None) -> LoadedThemes:
    """Load every theme file of ``directories`` (default: shipped, then user)."""
    dirs = list(directories) if directories is not None else [BUNDLED_DIR, user_theme_dir()]
    by_name: dict[str, Theme] = {}
    problems: list[str] = []
    for directory in dirs:
        for path in _theme_files(directory):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                problems.append(str(exc))
                continue
            by_name[theme.name] = theme
    return LoadedThemes(themes=tuple(by_name.values()), problems=tuple(problems))
