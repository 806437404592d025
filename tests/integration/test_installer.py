"""deploy/install.sh in a throwaway root (`--root DIR`), for real.

Everything is real except systemd as PID 1, which this machine and CI do not have: the user is
made by `useradd --root` in DIR/etc/passwd, the virtual environment by python3 -m venv and pip
from this checkout, the unit is enabled by `systemctl --root` (offline), and an upgrade's
readiness is decided by running the new release under deploy/ready_probe.py, which plays
systemd's side of the notify protocol. One install is shared by the tests of this module, which
run in order: install, idempotence, upgrade rollback, upgrade, uninstall, purge.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "deploy" / "install.sh"
SYSTEM_PYTHON = Path("/usr/bin/python3")


def run_installer(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(INSTALL), "--root", str(root), "--python", str(SYSTEM_PYTHON), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
    )
    result.stdout += result.stderr  # one transcript for assertion messages
    return result


def seed_root(root: Path) -> None:
    """The least of a Debian root the installer expects: the account files, group dialout."""
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc" / "group").write_text("root:x:0:\ndialout:x:20:\n")
    (root / "etc" / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (root / "etc" / "gshadow").write_text("root:*::\ndialout:*::\n")
    (root / "etc" / "hostname").write_text("Pasuruan Line 3\n")
    nologin = root / "usr" / "sbin" / "nologin"
    nologin.parent.mkdir(parents=True)
    nologin.write_text("#!/bin/sh\nexit 1\n")
    nologin.chmod(0o755)


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every path under `root` with its type, mode, owner, size, mtime and link target."""
    found: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            link = os.readlink(path) if path.is_symlink() else None
            found[str(path.relative_to(root))] = (
                st.st_mode,
                st.st_uid,
                st.st_gid,
                st.st_size,
                st.st_mtime_ns,
                link,
            )
    return found


def account(root: Path, file: str, name: str) -> list[str] | None:
    for line in (root / "etc" / file).read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields
    return None


def version_of(root: Path) -> str:
    gerbang = root / "opt" / "gerbang" / "venv" / "bin" / "gerbang"
    return subprocess.run(
        [str(gerbang), "version"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


def release_source(tmp: Path, version: str, *, broken: bool = False) -> Path:
    """A copy of this checkout as release `version`; `broken` fails before READY=1."""
    source = tmp / f"source-{version}"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "__pycache__", "*.egg-info", ".*_cache", "node_modules", "results"
        ),
    )
    init = source / "gateway" / "__init__.py"
    init.write_text(init.read_text().replace('__version__ = "0.1.0"', f'__version__ = "{version}"'))
    if broken:
        runner = source / "gateway" / "runner.py"
        text = runner.read_text()
        assert "        await gateway.start()\n" in text
        runner.write_text(
            text.replace(
                "        await gateway.start()\n",
                "        raise RuntimeError('broken release: cannot start')\n",
            )
        )
    return source


def require_root_and_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip("the installer runs as root (CI runs make test as root)")
    if not SYSTEM_PYTHON.exists() or shutil.which("useradd") is None:
        pytest.skip("needs Debian's /usr/bin/python3 (with python3-venv) and useradd")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    require_root_and_tools()
    root = tmp_path_factory.mktemp("root")
    seed_root(root)
    result = run_installer(root)
    assert result.returncode == 0, result.stdout
    return root, result.stdout


def test_install_lays_out_user_venv_config_state_and_unit(installed: tuple[Path, str]) -> None:
    root, output = installed
    user = account(root, "passwd", "gerbang")
    assert user is not None and user[5:] == ["/var/lib/gerbang", "/usr/sbin/nologin"], user
    uid, gid = int(user[2]), int(user[3])
    assert uid < 1000, "a system user"
    assert "gerbang" in account(root, "group", "dialout")[3].split(",")  # type: ignore[index]

    from gateway import __version__

    venv = root / "opt" / "gerbang" / "venv"
    assert os.readlink(venv).startswith(f"venvs/{__version__}-")
    assert version_of(root) == f"gerbang {__version__}"

    config = root / "etc" / "gerbang" / "gateway.yaml"
    assert "id: pasuruan-line-3 " in config.read_text(), "the gateway id comes from the host name"
    check = subprocess.run(
        [str(venv / "bin" / "gerbang"), "check", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    owners = {
        "etc/gerbang": (0o770, 0, gid),
        "etc/gerbang/gateway.yaml": (0o640, uid, gid),
        "etc/gerbang/gerbang.env": (0o640, 0, gid),
        "var/lib/gerbang": (0o750, uid, gid),
        "etc/systemd/system/gerbang.service": (0o644, 0, 0),
    }
    for path, (mode, owner, group) in owners.items():
        st = (root / path).stat()
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (mode, owner, group), path

    unit = root / "etc" / "systemd" / "system" / "gerbang.service"
    assert unit.read_text() == (ROOT / "deploy" / "systemd" / "gerbang.service").read_text()
    wants = root / "etc" / "systemd" / "system" / "multi-user.target.wants" / "gerbang.service"
    assert os.readlink(wants) == "/etc/systemd/system/gerbang.service", "enabled"
    assert "not started" in output
    # The checkout itself is left as it was (pip builds from a copy).
    assert not (ROOT / "build").exists()


def test_installed_unit_passes_systemd_analyze_verify(installed: tuple[Path, str]) -> None:
    root, _ = installed
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is missing (apt-get install systemd)")
    unit = (root / "etc" / "systemd" / "system" / "gerbang.service").read_text()
    # verify resolves ExecStart on this host: point it into the throwaway root.
    rooted = root.parent / "verify" / "gerbang.service"
    rooted.parent.mkdir(exist_ok=True)
    rooted.write_text(unit.replace("=/opt/gerbang/", f"={root}/opt/gerbang/"))
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(rooted)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=rooted.parent,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_second_run_changes_nothing(installed: tuple[Path, str]) -> None:
    root, _ = installed
    before = snapshot(root)
    result = run_installer(root)
    assert result.returncode == 0, result.stdout
    assert snapshot(root) == before
    assert "nothing to change" in result.stdout


def use_probe_safe_config(root: Path) -> None:
    """A config whose paths stay inside the throwaway root (the probe runs on this host)."""
    (root / "etc" / "gerbang").mkdir(parents=True, exist_ok=True)
    (root / "etc" / "gerbang" / "gateway.yaml").write_text(
        "version: 1\n"
        "gateway: {id: pasuruan-line-3}\n"
        "mqtt: {enabled: false}\n"
        f"buffer: {{path: {root}/var/lib/gerbang/buffer}}\n"
    )


def test_upgrade_rolls_back_when_the_new_release_does_not_get_ready(
    installed: tuple[Path, str], tmp_path: Path
) -> None:
    root, _ = installed
    use_probe_safe_config(root)
    opt = root / "opt" / "gerbang"
    before = os.readlink(opt / "venv")
    broken = release_source(tmp_path, "9.9.9", broken=True)
    result = run_installer(root, "--upgrade", "--source", str(broken))
    assert result.returncode != 0, result.stdout
    assert "did not become ready" in result.stdout and "rolling back" in result.stdout
    assert "broken release: cannot start" in result.stdout, "the probe shows why"
    assert os.readlink(opt / "venv") == before
    assert [p.name for p in (opt / "venvs").iterdir()] == [before.removeprefix("venvs/")]
    assert not (opt / "venv.previous").exists()
    assert not (opt / "upgrade-pending").exists()
    assert version_of(root).endswith("0.1.0")


def test_upgrade_switches_release_and_keeps_the_previous(
    installed: tuple[Path, str], tmp_path: Path
) -> None:
    root, _ = installed
    use_probe_safe_config(root)
    config = (root / "etc" / "gerbang" / "gateway.yaml").read_text()
    opt = root / "opt" / "gerbang"
    before = os.readlink(opt / "venv")
    result = run_installer(root, "--upgrade", "--source", str(release_source(tmp_path, "0.2.0")))
    assert result.returncode == 0, result.stdout
    assert "ready, watchdog pinging, stopped cleanly" in result.stdout
    assert os.readlink(opt / "venv").startswith("venvs/0.2.0-")
    assert os.readlink(opt / "venv.previous") == before
    assert not (opt / "upgrade-pending").exists()
    assert version_of(root) == "gerbang 0.2.0"
    assert (root / "etc" / "gerbang" / "gateway.yaml").read_text() == config, "config kept"


def test_next_run_rolls_back_an_upgrade_cut_short(installed: tuple[Path, str]) -> None:
    """A power cut between switching to a new release and seeing it ready leaves the marker;
    the next run of the installer goes back to the release named in it."""
    root, _ = installed
    opt = root / "opt" / "gerbang"
    good = os.readlink(opt / "venv.previous")
    unproven = os.readlink(opt / "venv")
    assert unproven != good
    (opt / "upgrade-pending").write_text(good + "\n")  # as left by the cut-short upgrade

    result = run_installer(root)
    assert result.returncode == 0, result.stdout
    assert "an upgrade was interrupted" in result.stdout
    assert os.readlink(opt / "venv") == good
    assert not (opt / "upgrade-pending").exists()
    assert not (opt / unproven).exists()
    assert version_of(root) == "gerbang 0.1.0"


def test_uninstall_keeps_config_and_data_and_purge_removes_them(
    installed: tuple[Path, str],
) -> None:
    root, _ = installed
    data = root / "var" / "lib" / "gerbang" / "buffer" / "segment-000001"
    data.parent.mkdir(exist_ok=True)
    data.write_bytes(b"samples not yet delivered")
    config = (root / "etc" / "gerbang" / "gateway.yaml").read_text()

    result = run_installer(root, "--uninstall")
    assert result.returncode == 0, result.stdout
    assert not (root / "opt" / "gerbang").exists()
    system = root / "etc" / "systemd" / "system"
    assert not (system / "gerbang.service").exists()
    assert not (system / "multi-user.target.wants" / "gerbang.service").is_symlink()
    assert (root / "etc" / "gerbang" / "gateway.yaml").read_text() == config
    assert data.read_bytes() == b"samples not yet delivered"
    assert account(root, "passwd", "gerbang") is not None

    again = run_installer(root, "--uninstall")
    assert again.returncode == 0 and "nothing to remove" in again.stdout, again.stdout

    purge = run_installer(root, "--uninstall", "--purge")
    assert purge.returncode == 0, purge.stdout
    assert not (root / "etc" / "gerbang").exists()
    assert not (root / "var" / "lib" / "gerbang").exists()
    assert account(root, "passwd", "gerbang") is None
    assert account(root, "group", "gerbang") is None
    assert "gerbang" not in account(root, "group", "dialout")[3].split(",")  # type: ignore[index]


def test_refuses_unknown_options() -> None:
    result = subprocess.run(
        [str(INSTALL), "--frobnicate"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2 and "unknown option --frobnicate" in result.stderr


# -- the branch for a booted system, with a `systemctl` that plays systemd as PID 1 -----------


class Systemd:
    """What makes install.sh see a running systemd (tests/support/fake_systemctl.py)."""

    def __init__(self, root: Path, folder: Path) -> None:
        self.root = root
        self.state = folder / "state"
        self.state.mkdir()
        bin_dir = folder / "bin"
        bin_dir.mkdir()
        fake = ROOT / "tests" / "support" / "fake_systemctl.py"
        (bin_dir / "systemctl").write_text(f'#!/bin/sh\nexec {sys.executable} {fake} "$@"\n')
        (bin_dir / "systemctl").chmod(0o755)
        self.env = {
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "GERBANG_INSTALL_SYSTEMD": "running",
            "GERBANG_INSTALL_SETTLE": "0",
            "FAKE_SYSTEMD_STATE": str(self.state),
            "FAKE_SYSTEMD_ROOT": str(root),
        }

    def calls(self) -> list[str]:
        path = self.state / "calls"
        return path.read_text().splitlines() if path.exists() else []

    @property
    def active(self) -> bool:
        return (self.state / "gerbang.service.active").exists()

    @property
    def enabled(self) -> bool:
        return (self.state / "gerbang.service.enabled").exists()


@pytest.fixture(scope="module")
def with_systemd(tmp_path_factory: pytest.TempPathFactory) -> tuple[Systemd, str]:
    require_root_and_tools()
    folder = tmp_path_factory.mktemp("booted")
    root = folder / "root"
    seed_root(root)
    use_probe_safe_config(root)  # kept by the installer, as any existing config
    systemd = Systemd(root, folder)
    result = run_installer(root, env=systemd.env)
    assert result.returncode == 0, result.stdout
    return systemd, result.stdout


def test_with_systemd_install_enables_and_starts_the_service(
    with_systemd: tuple[Systemd, str],
) -> None:
    systemd, output = with_systemd
    assert systemd.enabled and systemd.active
    calls = systemd.calls()
    assert "daemon-reload" in calls
    assert calls.index("enable gerbang.service") < calls.index("restart gerbang.service")
    assert "gerbang.service is running" in output and "not started" not in output
    assert "mqtt: {enabled: false}" in (systemd.root / "etc/gerbang/gateway.yaml").read_text()


def test_with_systemd_second_run_neither_changes_nor_restarts(
    with_systemd: tuple[Systemd, str],
) -> None:
    systemd, _ = with_systemd
    before, calls_before = snapshot(systemd.root), len(systemd.calls())
    result = run_installer(systemd.root, env=systemd.env)
    assert result.returncode == 0, result.stdout
    assert snapshot(systemd.root) == before
    new_calls = systemd.calls()[calls_before:]
    assert not [c for c in new_calls if c.startswith(("restart", "enable", "daemon-reload"))]


def test_with_systemd_failed_upgrade_restarts_the_previous_release(
    with_systemd: tuple[Systemd, str], tmp_path: Path
) -> None:
    systemd, _ = with_systemd
    opt = systemd.root / "opt" / "gerbang"
    before = os.readlink(opt / "venv")
    calls_before = len(systemd.calls())
    broken = release_source(tmp_path, "9.9.9", broken=True)
    result = run_installer(systemd.root, "--upgrade", "--source", str(broken), env=systemd.env)
    assert result.returncode != 0, result.stdout
    assert "rolling back" in result.stdout and "broken release" in result.stdout
    assert os.readlink(opt / "venv") == before
    restarts = [c for c in systemd.calls()[calls_before:] if c.startswith("restart")]
    assert len(restarts) == 2, "the new release, then the previous one"
    assert systemd.active, "the previous release runs again"


def test_with_systemd_upgrade_restarts_on_the_new_release(
    with_systemd: tuple[Systemd, str], tmp_path: Path
) -> None:
    systemd, _ = with_systemd
    result = run_installer(
        systemd.root,
        "--upgrade",
        "--source",
        str(release_source(tmp_path, "0.2.0")),
        env=systemd.env,
    )
    assert result.returncode == 0, result.stdout
    assert "upgraded to gerbang 0.2.0" in result.stdout and systemd.active
    assert version_of(systemd.root) == "gerbang 0.2.0"


def test_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    scripts = [INSTALL, ROOT / "deploy" / "mosquitto" / "make-certs.sh"]
    result = subprocess.run(
        [shellcheck, *map(str, scripts)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout
