"""Advice as markdown (one document) or as files (one per artifact, why as a header)."""

from __future__ import annotations

from streamdash.advise.build import Advice
from streamdash.advise.model import Artifact

_COMMENT = {"yaml": "#", "haproxy": "#", "nginx": "#", "shell": "#", "text": "#"}


def _fence(text: str) -> str:
    """A backtick fence longer than any backtick run in ``text``."""
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def render_markdown(advice: Advice, heading: str = "streamdash advise") -> str:
    """The whole advice: per artifact its title, why, file name and body."""
    out = [f"# {heading}", ""]
    if not advice.artifacts:
        out += ["No artifacts: nothing in this snapshot calls for a change.", ""]
    for a in advice.artifacts:
        fence = _fence(a.body)
        out += [
            f"## {a.title}",
            "",
            a.why,
            "",
            f"File: `{a.name}`",
            "",
            f"{fence}{a.language}",
            a.body.rstrip("\n"),
            fence,
            "",
        ]
    if advice.notes:
        out += ["## Notes", ""]
        out += [f"- {n}" for n in advice.notes]
        out.append("")
    return "\n".join(out)


def _wrap(text: str, width: int = 88) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]


def file_text(artifact: Artifact) -> str:
    """The artifact as a file: the why as comment lines, then the body."""
    mark = _COMMENT[artifact.language]
    head = [f"{mark} {artifact.title} (written by streamdash advise)"]
    head += [f"{mark} {line}" for line in _wrap(artifact.why, 86)]
    return "\n".join(head) + "\n\n" + artifact.body
