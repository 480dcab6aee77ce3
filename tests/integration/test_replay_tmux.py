"""Record a demo whose scenario changes mid-run, then replay it in tmux like a person.

healthy → overflow at 6 s → fd-ceiling at 12 s, recorded every second by the real
`streamdash record`; `streamdash replay` in tmux: step to before and after each change
and see the findings change; the timeline lists both transitions at their times; an
export made during replay says it is from a recording and when.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streamdash.record.store import RecordingReader
from tests.support.tmux import Tmux

pytestmark = [pytest.mark.integration, pytest.mark.tmux]

TMUX = Tmux(f"streamdash-replay-{os.getpid()}")
SESSION = TMUX.session
tmux, screen, wait_for, press = TMUX.run, TMUX.screen, TMUX.wait_for, TMUX.press
REPO = Path(__file__).resolve().parents[2]


def clock(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")


def header(text: str) -> str:
    return text.splitlines()[0] if text else ""


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "night.sdrec"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMDASH_")}
    proc = subprocess.run(
        [
            sys.executable, "-m", "streamdash", "record", str(path),
            "--demo", "healthy,overflow@6s,fd-ceiling@12s",
            "--every", "1s", "--duration", "20s", "--window", "1m",
        ],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return path


def _first_with(frames: list, finding_id: str) -> int:  # type: ignore[type-arg]
    return next(i for i, f in enumerate(frames) if any(x.id == finding_id for x in f.findings))


@pytest.fixture
def replay(recording: Path, tmp_path: Path) -> Iterator[Path]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed (./scripts/test installs it)")
    exe = Path(sys.executable).with_name("streamdash")
    rc = tmp_path / "rc"
    cmd = (
        f"cd {shlex.quote(str(tmp_path))} && TZ=UTC TERM=screen-256color "
        f"{shlex.quote(str(exe))} replay {shlex.quote(str(recording))}; "
        f"echo $? > {shlex.quote(str(rc))}; sleep 60"
    )
    tmux("new-session", "-d", "-s", SESSION, "-x", "160", "-y", "50",
         f"env -u COLUMNS -u LINES sh -c {shlex.quote(cmd)}")  # fmt: skip
    try:
        yield tmp_path
    finally:
        tmux("kill-server")


def test_replay_steps_across_the_changes_and_the_timeline_lists_them(
    recording: Path, replay: Path
) -> None:
    reader = RecordingReader(recording)
    frames, n = reader.frames, len(reader)
    overflow, fd = _first_with(frames, "histogram-overflow"), _first_with(frames, "fd-exhaustion")
    assert frames[0].findings == ()
    assert 0 < overflow < fd < n
    t = [f.taken_at for f in frames]

    text = wait_for(
        lambda s: f"recorded {clock(t[0])} · 1/{n}" in header(s) and "No findings" in s,
        "the cursor on the first frame",
    )
    assert "CRITICAL" not in text

    # g: jump to the second before the overflow appeared (the frame nearest it)
    press("g")
    time.sleep(0.4)
    press(clock(t[overflow - 1]), "Enter")
    typed = float(int(t[overflow - 1]))
    near = min(range(n), key=lambda i: (abs(t[i] - typed), i))
    assert near < overflow
    wait_for(
        lambda s: f"· {near + 1}/{n}" in header(s) and "No findings" in s and "CRITICAL" not in s,
        "the frame nearest the time, without findings",
    )
    # ]: step on to the first frame with the overflow
    press(*["]"] * (overflow - near))
    text = wait_for(
        lambda s: (
            f"recorded {clock(t[overflow])} · {overflow + 1}/{n}" in header(s)
            and "Findings · 1 critical" in s
        ),
        "the overflow frame",
    )
    assert "Stream duration" in text  # summaries wrap in the Findings panel
    # }: the next change of findings is the FD ceiling
    press("}")
    wait_for(  # the overflow and the FD ceiling
        lambda s: f"· {fd + 1}/{n}" in header(s) and "Findings · 2 critical" in s,
        "the fd-ceiling frame",
    )
    # [: one back, before the FD finding
    press("[")
    text = wait_for(
        lambda s: f"· {fd}/{n}" in header(s) and "Findings · 1 critical" in s,
        "the frame before the FD finding",
    )
    assert "Stream dura" in text, text

    press("e")
    wait_for(lambda s: "streamdash-snapshot-" in s, "the export path")
    (export,) = replay.glob("streamdash-snapshot-*.md")
    body = export.read_text()
    stamp = datetime.fromtimestamp(t[fd - 1], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"From a recording (night.sdrec): this snapshot was recorded at {stamp}" in body

    press("T")
    text = wait_for(lambda s: "Findings timeline" in s, "the timeline")
    lines = text.splitlines()
    row_overflow = next(x for x in lines if "histogram-overflow" in x)
    row_fd = next(x for x in lines if "fd-exhaustion" in x)
    assert clock(t[overflow]) in row_overflow and "appeared critical" in row_overflow
    assert clock(t[fd]) in row_fd and "appeared critical" in row_fd
    assert lines.index(row_overflow) < lines.index(row_fd)
    # Enter on the newest entry (the cursor starts there) opens that snapshot
    press("Enter")
    wait_for(lambda s: f"recorded {clock(t[fd])} · {fd + 1}/{n}" in header(s), "the entry's frame")

    press("q")
    rc = replay / "rc"
    deadline = time.monotonic() + 10
    while not rc.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rc.exists() and rc.read_text().strip() == "0", screen()
    assert "Traceback" not in screen()
