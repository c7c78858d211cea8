"""Every output path against what is already there: devices, FIFOs, directories, links, full disks (#12)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from servers import Hostile

from hostile import SECRET, device_node, fifo, perfbook, still, unchanged

is_dev, is_fifo, is_link = stat.S_ISCHR, stat.S_ISFIFO, stat.S_ISLNK


@pytest.fixture(scope="module")
def app():
    with Hostile("ok") as srv:
        yield srv


@pytest.fixture
def cfg(tmp_path: Path, app: Hostile) -> Path:
    path = tmp_path / "perfbook.toml"
    path.write_text(
        f'[http]\nbase_url = "{app.url}"\nendpoints = ["/health"]\n[frontend]\nurl = ""\n'
        f'[store]\nurl = "sqlite:///{tmp_path}/store.db"\n'
    )
    return path


WORK_S = 12  # each command's own work: a refusal well within it was made before the work


def triage_md(cfg: Path, out: Path, window: str = f"{WORK_S}s"):
    return perfbook(
        "triage",
        "--config",
        str(cfg),
        "--only",
        "http,metrics",
        "--window",
        window,
        "--fail-on",
        "never",
        "--markdown",
        str(out),
        timeout_s=60,
    )


def load_o(app: Hostile, out: Path, duration: str = f"{WORK_S}s"):
    return perfbook("load", app.url + "/health", "-d", duration, "-c", "2", "-o", str(out), timeout_s=60)


def before_the_work(run) -> callable:
    return lambda: (
        None if run.took_s < WORK_S * 0.6 else f"refused only after {run.took_s:.1f} s: after the work"
    )


def _a_device(tmp_path):
    dev = device_node(tmp_path / "full")
    return dev, [still(dev, is_dev, "a device node")]


def _a_fifo(tmp_path):
    f = fifo(tmp_path / "pipe")
    return f, [still(f, is_fifo, "a FIFO")]


def _a_directory(tmp_path):
    d = tmp_path / "adir"
    d.mkdir()
    (d / "keep.txt").write_text("keep")
    return d, [lambda: None if (d / "keep.txt").read_text() == "keep" else "the directory's file changed"]


def _a_link_to_a_device(tmp_path):
    dev = device_node(tmp_path / "full")
    link = tmp_path / "report.md"
    link.symlink_to(dev)
    return link, [still(dev, is_dev, "a device node"), still(link, is_link, "a symlink")]


REFUSED = {
    "device": _a_device,
    "fifo": _a_fifo,
    "directory": _a_directory,
    "link to a device": _a_link_to_a_device,
}


@pytest.mark.parametrize("kind", list(REFUSED))
def test_triage_markdown_never_replaces_what_is_not_a_regular_file(attempt, cfg, tmp_path, kind):
    target, protect = REFUSED[kind](tmp_path)
    run = triage_md(cfg, target)
    attempt.check(run, codes={2}, error=True, protect=protect, verify=[before_the_work(run)])


@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
def test_load_output_is_checked_before_the_run(attempt, app, tmp_path, kind):
    target, protect = REFUSED[kind](tmp_path)
    run = load_o(app, target)
    attempt.check(run, codes={2}, error=True, protect=protect, verify=[before_the_work(run)])


@pytest.mark.parametrize("where", ["missing dir", "/proc"])
def test_unwritable_places_are_one_line_before_the_work(attempt, app, cfg, tmp_path, where):
    out = (
        tmp_path / "no" / "such" / "dir" / "x.json"
        if where == "missing dir"
        else Path("/proc/self/perfbook.json")
    )
    run = load_o(app, out)
    attempt.check(run, codes={2}, error=True, verify=[before_the_work(run)])


def test_triage_markdown_into_a_missing_directory(attempt, cfg, tmp_path):
    run = triage_md(cfg, tmp_path / "missing" / "incident.md")
    attempt.check(run, codes={2}, error=True, verify=[before_the_work(run)])


def test_a_symlink_is_written_through_and_stays_a_link(attempt, cfg, tmp_path):
    real = tmp_path / "real.md"
    real.write_text("old\n")
    link = tmp_path / "incident.md"
    link.symlink_to(real)
    run = triage_md(cfg, link, window="0.5s")
    attempt.check(
        run,
        codes={0},
        protect=[still(link, is_link, "a symlink")],
        verify=[lambda: None if real.read_text().startswith("# perfbook triage") else "target not written"],
    )


def test_a_full_disk_fails_in_one_line_and_keeps_the_old_report(attempt, cfg, full_fs):
    old = full_fs / "old.txt"
    run = triage_md(cfg, old, window="0.5s")
    attempt.check(run, codes={1}, error=True, protect=[unchanged(old)])


def test_load_output_on_a_full_disk(attempt, app, full_fs):
    old = full_fs / "old.txt"
    run = load_o(app, old, duration="1s")
    attempt.check(run, codes={1}, error=True, protect=[unchanged(old)])


def test_reports_are_created_private(attempt, cfg, tmp_path):
    out = tmp_path / "new.md"
    run = triage_md(cfg, out, window="0.5s")
    attempt.check(
        run,
        codes={0},
        verify=[
            lambda: (
                None
                if stat.S_IMODE(out.stat().st_mode) == 0o600
                else f"mode {stat.S_IMODE(out.stat().st_mode):o}"
            )
        ],
    )


@pytest.mark.parametrize("name", ["knee.txt", "knee"])
def test_capacity_plot_name_is_checked_before_the_search(attempt, app, tmp_path, name):
    run = capacity_plot(app, tmp_path / name)
    attempt.check(
        run,
        codes={2},
        error=True,
        verify=[
            before_the_work(run),
            lambda: None if not list(tmp_path.glob("knee*")) else "a file was written anyway",
        ],
    )


def capacity_plot(app: Hostile, plot: Path):
    return perfbook(
        "capacity",
        app.url + "/health",
        "--slo",
        "p95<1s",
        "--step-duration",
        "3s",
        "--max-duration",
        f"{WORK_S}s",
        "--no-plot",
        "--plot",
        str(plot),
        timeout_s=90,
    )


def test_capacity_plot_onto_a_device(attempt, app, tmp_path):
    dev = device_node(tmp_path / "knee.png")
    run = capacity_plot(app, dev)
    attempt.check(
        run,
        codes={2},
        error=True,
        protect=[still(dev, is_dev, "a device node")],
        verify=[before_the_work(run)],
    )


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_config_init_force_never_replaces_a_device_or_fifo(attempt, tmp_path, kind):
    target, protect = REFUSED[kind](tmp_path)
    run = perfbook("config", "init", str(target), "--force")
    attempt.check(run, codes={2}, error=True, protect=protect)


def test_config_init_force_writes_through_a_symlink(attempt, tmp_path):
    real = tmp_path / "real.toml"
    real.write_text("# old\n")
    link = tmp_path / "perfbook.toml"
    link.symlink_to(real)
    run = perfbook("config", "init", str(link), "--force")
    attempt.check(
        run,
        codes={0},
        protect=[still(link, is_link, "a symlink")],
        verify=[lambda: None if "[http]" in real.read_text() else "target not written"],
    )


@pytest.mark.parametrize("args", [("config", "show"), ("fix", "--list"), ("config", "show", "--json")])
def test_stdout_on_a_full_disk_is_one_line(attempt, args):
    run = perfbook(*args, stdout="/dev/full")  # the only /dev entry used: as stdout, as the issue says
    attempt.check(run, codes={1}, error=True)


def test_triage_json_to_a_full_disk(attempt, cfg):
    run = perfbook(
        "triage", "--config", str(cfg), "--only", "http", "--window", "0.2s", "--json", stdout="/dev/full"
    )
    attempt.check(run, codes={1}, error=True)


def test_load_json_to_a_full_disk(attempt, app):
    run = perfbook("load", app.url + "/health", "-n", "20", "--json", stdout="/dev/full")
    attempt.check(run, codes={1}, error=True)


def test_a_closed_pipe_is_no_traceback(attempt):
    proc = subprocess.run(
        f"{sys.executable} -m perfbook fix --list | head -c 20 > /dev/null; exit ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=60,
    )
    from hostile import Run

    run = Run(("fix", "--list", "| head"), proc.returncode, proc.stdout, proc.stderr, 0.0)
    attempt.check(run, codes={0, 1}, secrets=[SECRET])
