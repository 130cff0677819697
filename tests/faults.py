"""Killing a process in the middle of a write, for the fault tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path


def kill_midway(script: str, marker: Path, timeout: float = 60) -> None:
    """Run ``script`` in a new Python process; once it has written ``marker`` (its way of saying
    "I am inside the transaction now"), kill it with SIGKILL, as a power cut or the OOM killer
    would."""
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)])
    try:
        deadline = time.monotonic() + timeout
        while not marker.exists():
            if process.poll() is not None:
                raise AssertionError(f"the process ended early with {process.returncode}")
            if time.monotonic() > deadline:
                raise AssertionError("the process never reached the marker")
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
