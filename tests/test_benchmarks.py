"""The benchmarks' peak memory is the measured process's own (no benchmark is run here)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from audit.config import ROOT
from benchmarks import worker

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the benchmarks read Linux's /proc"
)

STATUS = """Name:\tpython
VmPeak:\t  912344 kB
VmSize:\t  850000 kB
VmHWM:\t  131072 kB
VmRSS:\t  100000 kB
"""


def _python(code: str) -> dict:
    """Run code in a fresh interpreter from the checkout; it prints one JSON object."""
    output = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def test_peak_is_the_vmhwm_line(tmp_path):
    status = tmp_path / "status"
    status.write_text(STATUS)
    assert worker.peak_mb(status) == 128.0


def test_a_status_without_vmhwm_is_an_error(tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmRSS:\t 100 kB\n")
    with pytest.raises(RuntimeError, match="VmHWM"):
        worker.peak_mb(status)


def test_peak_follows_the_real_process():
    result = _python(
        """
        import json
        from benchmarks.worker import peak_mb
        before = peak_mb()
        ballast = b"x" * (80 * 1024 * 1024)  # written, so really resident
        after = peak_mb()
        del ballast
        print(json.dumps({"before": before, "after": after, "later": peak_mb()}))
        """
    )
    assert 1 < result["before"] < 200
    assert result["after"] - result["before"] >= 75
    assert result["later"] - result["before"] >= 75  # a peak: freeing the ballast keeps it


def test_a_worker_started_from_a_fat_parent_reports_its_own_peak():
    """The benchmark's parent holds a large database in memory; its worker must not inherit
    that peak (getrusage's ru_maxrss does, across fork and exec)."""
    result = _python(
        """
        import json, subprocess, sys
        ballast = b"x" * (300 * 1024 * 1024)
        child = subprocess.run(
            [sys.executable, "-c",
             "import json, resource; from benchmarks.worker import peak_mb;"
             "print(json.dumps({'own': peak_mb(),"
             " 'maxrss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))"],
            capture_output=True, text=True, check=True,
        )
        print(child.stdout)
        """
    )
    assert result["own"] < 100, result
    # What the worker used to report: the parent's 300 MB (this shows the test's setup works).
    assert result["maxrss"] > 250, result


def test_the_peak_of_a_child_process_is_seen():
    """An import reads its workbook in a child process: the benchmark counts that one's peak."""
    code = "b = b'x' * (90 * 1024 * 1024); import time; time.sleep(0.5)"
    with worker.ChildrenPeak() as children:
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert children.peak_mb >= 85
    with worker.ChildrenPeak() as none:
        pass
    assert none.peak_mb == 0


def test_a_child_not_yet_started_counts_not_the_parents_memory(tmp_path):
    """Between fork and exec a child shares its parent's memory, and its VmHWM says so: the
    reading worker, started by a server holding 200 MB, looked as large as the server."""
    script = tmp_path / "fork.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, sys, time
            sys.path.insert(0, os.getcwd())
            from benchmarks import worker
            held = bytearray(200 * 1024 * 1024)
            held[:: 4096] = b"x" * len(held[:: 4096])
            with worker.ChildrenPeak() as children:
                pid = os.fork()
                if pid == 0:
                    time.sleep(0.3)
                    os._exit(0)
                os.waitpid(pid, 0)
            print(children.peak_mb)
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=Path(worker.__file__).parent.parent,
    )
    assert float(done.stdout) < 100, done.stdout
