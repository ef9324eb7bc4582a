"""The double-click app: --version, --self-test, the PyInstaller spec, icons, and the Linux
desktop integration (desktop entry, MIME types, install.sh).

The bundle build itself (packaging/build.sh, about 20 s plus installs) is not run here.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import types
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
LINUX = PACKAGING / "linux"
ICONS = ROOT / "resources" / "icons"
APP = "agentmemory-wizard"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"

with open(ROOT / "pyproject.toml", "rb") as _f:
    PROJECT = tomllib.load(_f)["project"]


def run_app(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wizard", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def app_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a subprocess whose store, log, settings and home are temporary."""
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        AGENTMEMORY_WIZARD_DB=str(tmp_path / "store" / "store.sqlite"),
        AGENTMEMORY_WIZARD_LOG_DIR=str(tmp_path / "log"),
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


# -- --version and --self-test ------------------------------------------------------------------
def test_version_prints_name_and_pyproject_version(app_env: dict[str, str]) -> None:
    proc = run_app("--version", env=app_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{APP} {PROJECT['version']}"


def test_self_test_passes_offscreen_and_touches_nothing_outside_its_temp_dir(
    app_env: dict[str, str], tmp_path: Path
) -> None:
    proc = run_app("--self-test", env=app_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("self-test: ok ("), proc.stdout
    assert "imported 3 records (sessions 1, observations 1, memories 1)" in lines[-1]
    assert "Traceback" not in proc.stderr
    # The temporary store and settings are the self-test's own, not the caller's.
    assert not (tmp_path / "store").exists()
    assert not (tmp_path / "config").exists() or not any((tmp_path / "config").rglob("*.*"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland display check")
def test_self_test_without_a_display_fails_with_a_reason_instead_of_aborting(
    app_env: dict[str, str],
) -> None:
    for key in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        app_env.pop(key, None)
    proc = run_app("--self-test", env=app_env)
    assert proc.returncode == 1
    assert proc.stdout.strip() == (
        "self-test: FAILED: no display (set QT_QPA_PLATFORM=offscreen to run the self-test "
        "without one)"
    )


def test_self_test_reports_a_refused_sample_as_a_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from wizard import selftest

    monkeypatch.setenv("AGENTMEMORY_WIZARD_LOG_DIR", str(tmp_path / "log"))
    monkeypatch.setitem(selftest.SAMPLE_EXPORT, "version", "0.0.1")  # not a supported version
    assert selftest.run_self_test() == 1
    out = capsys.readouterr()
    assert out.out.startswith("self-test: FAILED: the built-in export was refused: ")
    assert "0.0.1" in out.out
    assert "Traceback" not in out.out + out.err


def test_self_test_turns_an_unexpected_error_into_one_line_and_a_log_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from wizard import selftest

    monkeypatch.setenv("AGENTMEMORY_WIZARD_LOG_DIR", str(tmp_path / "log"))

    def broken(*_args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(selftest, "_import_sample", broken)
    assert selftest.run_self_test() == 1
    out = capsys.readouterr()
    assert out.out.startswith("self-test: FAILED: RuntimeError: boom (details in ")
    assert "Traceback" not in out.out + out.err
    log = tmp_path / "log" / "selftest-failure.log"
    assert "Traceback" in log.read_text(encoding="utf-8")
    assert os.environ["AGENTMEMORY_WIZARD_LOG_DIR"] == str(tmp_path / "log")  # env restored


# -- the PyInstaller spec -----------------------------------------------------------------------
class _Recorder:
    """Stands in for one of PyInstaller's spec classes and keeps what it was given."""

    made: list[tuple[str, tuple, dict]]

    def __init__(self, kind: str, made: list, *args: Any, **kwargs: Any) -> None:
        self.kind, self.args, self.kwargs = kind, args, kwargs
        made.append((kind, args, kwargs))
        # Analysis's outputs, with a few entries to check the spec's filtering.
        self.pure: list = []
        self.scripts: list = []
        self.binaries = [
            ("PySide6/Qt/plugins/platforms/libqxcb.so", "/x/libqxcb.so", "BINARY"),
            ("PySide6/Qt/plugins/platforms/libqoffscreen.so", "/x/libqoffscreen.so", "BINARY"),
            ("PySide6/Qt/plugins/platforms/libqvnc.so", "/x/libqvnc.so", "BINARY"),
            ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/x/libqgtk3.so", "BINARY"),
            ("PySide6/Qt/lib/libQt6Widgets.so.6", "/x/libQt6Widgets.so.6", "BINARY"),
            ("PySide6/Qt/lib/libQt6Network.so.6", "/x/libQt6Network.so.6", "BINARY"),
            ("libcairo.so.2", "/usr/lib/libcairo.so.2", "BINARY"),
            ("libglib-2.0.so.0", "/usr/lib/libglib-2.0.so.0", "BINARY"),
        ]
        self.datas = [
            ("PySide6/Qt/translations/qtbase_de.qm", "/x/qtbase_de.qm", "DATA"),
            ("resources/icons/agentmemory-wizard.ico", "/x/agentmemory-wizard.ico", "DATA"),
        ]


def exec_spec(monkeypatch: pytest.MonkeyPatch, platform: str) -> tuple[dict, list]:
    """Run the spec file with PyInstaller's classes and hooks replaced by recorders."""
    made: list[tuple[str, tuple, dict]] = []
    calls: dict[str, list] = {"collect_submodules": [], "copy_metadata": []}

    hooks = types.ModuleType("PyInstaller.utils.hooks")

    def collect_submodules(package: str) -> list[str]:
        calls["collect_submodules"].append(package)
        return [package, f"{package}.selftest", f"{package}.ui.app"]

    def copy_metadata(dist: str) -> list[tuple[str, str]]:
        calls["copy_metadata"].append(dist)
        return [(f"/site/{dist}.dist-info", f"{dist}.dist-info")]

    hooks.collect_submodules = collect_submodules
    hooks.copy_metadata = copy_metadata
    hooks.collect_data_files = lambda package: []
    versioninfo = types.ModuleType("PyInstaller.utils.win32.versioninfo")
    for cls in ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable",
                "StringStruct", "VarFileInfo", "VarStruct"):  # fmt: skip
        setattr(versioninfo, cls, lambda *a, _cls=cls, **k: (_cls, a, k))
    for name, module in {
        "PyInstaller": types.ModuleType("PyInstaller"),
        "PyInstaller.utils": types.ModuleType("PyInstaller.utils"),
        "PyInstaller.utils.hooks": hooks,
        "PyInstaller.utils.win32": types.ModuleType("PyInstaller.utils.win32"),
        "PyInstaller.utils.win32.versioninfo": versioninfo,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "platform", platform)

    def recorder(kind: str):
        return lambda *args, **kwargs: _Recorder(kind, made, *args, **kwargs)

    namespace: dict[str, Any] = {
        "SPECPATH": str(PACKAGING),
        "__name__": "__main__",
        **{k: recorder(k) for k in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")},
    }
    spec = PACKAGING / f"{APP}.spec"
    exec(compile(spec.read_text(encoding="utf-8"), str(spec), "exec"), namespace)
    namespace["_calls"] = calls
    return namespace, made


def _made(made: list, kind: str) -> list[tuple[tuple, dict]]:
    return [(args, kwargs) for k, args, kwargs in made if k == kind]


def test_spec_reads_name_and_version_from_pyproject(monkeypatch: pytest.MonkeyPatch) -> None:
    ns, made = exec_spec(monkeypatch, "linux")
    assert ns["NAME"] == PROJECT["name"] == APP
    assert ns["VERSION"] == PROJECT["version"]
    assert ns["_calls"]["copy_metadata"] == [APP]  # wizard.__version__ inside the bundle
    assert "wizard" in ns["_calls"]["collect_submodules"]

    [(analysis_args, analysis)] = _made(made, "Analysis")
    assert Path(analysis_args[0][0]) == PACKAGING / "entry.py"
    assert "wizard.selftest" in analysis["hiddenimports"]
    assert "wizard.ui.app" in analysis["hiddenimports"]
    assert "tkinter" in analysis["excludes"]
    data_targets = {target for _source, target in analysis["datas"]}
    assert {"resources/icons", "resources/icons/hicolor"} <= data_targets

    [(_, exe)] = _made(made, "EXE")
    assert exe["name"] == APP and exe["console"] is False and exe["argv_emulation"] is False
    [(_, coll)] = _made(made, "COLLECT")
    assert coll["name"] == APP  # dist/agentmemory-wizard/agentmemory-wizard
    assert not _made(made, "BUNDLE")


def test_spec_drops_unused_qt_parts_and_keeps_the_needed_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns, _ = exec_spec(monkeypatch, "linux")
    analysis = ns["a"]
    kept = {dest for dest, _src, _kind in analysis.binaries + analysis.datas}
    assert kept == {
        "PySide6/Qt/plugins/platforms/libqxcb.so",
        "PySide6/Qt/plugins/platforms/libqoffscreen.so",
        "PySide6/Qt/lib/libQt6Widgets.so.6",
        "libglib-2.0.so.0",
        "resources/icons/agentmemory-wizard.ico",
    }


def test_spec_on_windows_has_a_windowed_exe_and_a_console_twin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, made = exec_spec(monkeypatch, "win32")
    exes = {kwargs["name"]: kwargs for _args, kwargs in _made(made, "EXE")}
    assert exes[APP]["console"] is False  # no console window for the GUI
    assert exes[f"{APP}-cli"]["console"] is True
    assert all(e["icon"].endswith(f"{APP}.ico") for e in exes.values())
    assert exes[APP]["version"][0] == "VSVersionInfo"
    [(coll_args, _)] = _made(made, "COLLECT")
    assert len([x for x in coll_args if getattr(x, "kind", "") == "EXE"]) == 2


def test_spec_on_macos_builds_an_app_bundle_with_document_types(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, made = exec_spec(monkeypatch, "darwin")
    [(_, bundle)] = _made(made, "BUNDLE")
    assert bundle["bundle_identifier"] == "io.github.agentmemory.wizard"
    assert bundle["version"] == PROJECT["version"]
    assert bundle["icon"].endswith(f"{APP}.icns")
    plist = bundle["info_plist"]
    assert plist["NSHighResolutionCapable"] is True
    assert plist["CFBundleShortVersionString"] == PROJECT["version"]
    extensions = set()
    for doc in plist["CFBundleDocumentTypes"]:
        assert doc["CFBundleTypeRole"] == "Viewer"
        extensions.update(doc["CFBundleTypeExtensions"])
    assert extensions == {"af", "json", "jsonl", "zip"}
    [(_, exe)] = _made(made, "EXE")
    assert exe["argv_emulation"] is False  # Qt receives the open-document Apple Events
    assert exe["icon"].endswith(f"{APP}.icns")


# -- icons ----------------------------------------------------------------------------------------
def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("size", [16, 24, 32, 48, 64, 128, 256, 512])
def test_png_icon_sizes(size: int) -> None:
    png = ICONS / "hicolor" / f"{size}x{size}" / "apps" / f"{APP}.png"
    assert png_size(png.read_bytes()) == (size, size)


def test_ico_and_icns_hold_the_expected_sizes() -> None:
    ico = (ICONS / f"{APP}.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1)
    sizes = set()
    for i in range(count):
        _w, _h, _c, _r, _p, _bpp, length, offset = struct.unpack(
            "<BBBBHHII", ico[6 + 16 * i : 22 + 16 * i]
        )
        sizes.add(png_size(ico[offset : offset + length])[0])
    assert {16, 32, 48, 256} <= sizes

    icns = (ICONS / f"{APP}.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)
    found, pos = {}, 8
    while pos < len(icns):
        kind, length = icns[pos : pos + 4].decode(), struct.unpack(">I", icns[pos + 4 : pos + 8])[0]
        found[kind] = png_size(icns[pos + 8 : pos + length])[0]
        pos += length
    assert found["ic07"] == 128 and found["ic08"] == 256 and found["ic10"] == 1024


# -- the wheel (pip install .) ------------------------------------------------------------------
def _setuptools() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]


def test_every_package_of_wizard_is_in_the_wheel_list() -> None:
    """pyproject lists the packages (so that resources/ can be mapped in): a new package
    missing from the list would be missing from `pip install .`."""
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "wizard").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    listed = set(_setuptools()["packages"])
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
    assert _setuptools()["package-dir"]["wizard.resources"] == "resources"


@pytest.mark.slow
def test_the_wheel_holds_the_icons_where_the_app_looks(tmp_path: Path) -> None:
    """`pip install .` gave a window without an icon: resources/ was not in the wheel."""
    from wizard.ui import app

    src = tmp_path / "src"  # built from a copy: no build/ or egg-info left in the work tree
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("wizard", "resources"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    out = tmp_path / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-w", str(out)],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [wheel] = out.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    # where icon_dirs() looks in an installed copy: the package's resources/icons
    package = Path(app.__file__).resolve().parent.parent
    icons = "/".join((*package.relative_to(ROOT).parts, "resources", "icons"))
    assert package / "resources" / "icons" in app.icon_dirs()
    assert f"{icons}/{APP}.svg" in names
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        assert f"{icons}/hicolor/{size}x{size}/apps/{APP}.png" in names
    assert f"{icons}/{APP}.ico" in names and f"{icons}/{APP}.icns" in names
    assert not [n for n in names if n.startswith(icons) and n.endswith(".py")]  # render.py


# -- Linux desktop integration ------------------------------------------------------------------
def desktop_entry(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    return dict(line.split("=", 1) for line in lines[1:] if "=" in line)


def mime_types() -> dict[str, list[str]]:
    root = ET.parse(LINUX / f"{APP}-mime.xml").getroot()
    assert root.tag == f"{MIME_NS}mime-info"
    return {
        t.get("type"): [g.get("pattern") for g in t.findall(f"{MIME_NS}glob")]
        for t in root.findall(f"{MIME_NS}mime-type")
    }


def test_mime_xml_names_the_export_types_without_claiming_all_json() -> None:
    types_ = mime_types()
    globs = {glob for patterns in types_.values() for glob in patterns}
    assert "*.af" in types_["application/x-letta-agent-file"]
    assert "*.agentmemory.json" in types_["application/x-agentmemory-export"]
    assert "*.agentmemory.jsonl" in types_["application/x-agentmemory-export-jsonl"]
    assert "*.mem0.json" in types_["application/x-mem0-export"]
    assert "memories_export*.zip" in types_["application/x-openmemory-export"]
    assert not globs & {"*.json", "*.jsonl", "*.zip", "*"}
    root = ET.parse(LINUX / f"{APP}-mime.xml").getroot()
    parents = {
        t.get("type"): t.find(f"{MIME_NS}sub-class-of").get("type")
        for t in root.findall(f"{MIME_NS}mime-type")
    }
    assert parents["application/x-letta-agent-file"] == "application/json"
    assert parents["application/x-openmemory-export"] == "application/zip"


def test_desktop_entry_opens_files_of_every_declared_type() -> None:
    entry = desktop_entry(LINUX / f"{APP}.desktop")
    assert entry["Type"] == "Application"
    assert entry["Exec"] == f"{APP} %F"
    assert entry["Icon"] == APP
    assert entry["Categories"].endswith(";")
    declared = [t for t in entry["MimeType"].split(";") if t]
    assert set(declared) == set(mime_types())


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils missing")
def test_desktop_entry_passes_desktop_file_validate() -> None:
    proc = subprocess.run(
        ["desktop-file-validate", str(LINUX / f"{APP}.desktop")], capture_output=True, text=True
    )
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


@pytest.mark.skipif(not shutil.which("xmllint"), reason="xmllint (libxml2-utils) missing")
def test_mime_xml_is_well_formed_for_xmllint() -> None:
    proc = subprocess.run(
        ["xmllint", "--noout", str(LINUX / f"{APP}-mime.xml")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("script", ["build.sh", "linux/install.sh"])
def test_shell_scripts_parse(script: str) -> None:
    if not shutil.which("bash"):
        pytest.skip("no bash")
    proc = subprocess.run(["bash", "-n", str(PACKAGING / script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def fake_bundle(tmp_path: Path) -> Path:
    """A stand-in for dist/agentmemory-wizard: an executable that prints its arguments."""
    bundle = tmp_path / "dist" / APP
    (bundle / "_internal").mkdir(parents=True)
    exe = bundle / APP
    exe.write_text('#!/bin/sh\necho "fake wizard: $*"\n', encoding="utf-8")
    exe.chmod(0o755)
    return bundle


def run_install(home: Path, bundle: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_DATA_HOME", "OPT_DIR", "BIN_DIR")}
    env["HOME"] = str(home)
    proc = subprocess.run(
        ["bash", str(LINUX / "install.sh"), "--bundle", str(bundle), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux desktop integration")
def test_install_sh_installs_for_the_user_and_uninstalls(tmp_path: Path, fake_bundle: Path) -> None:
    home = tmp_path / "my home"  # a space: Exec must quote the path
    data = home / ".local" / "share"
    run_install(home, fake_bundle)

    installed = home / ".local" / "opt" / APP / APP
    assert os.access(installed, os.X_OK)
    launcher = home / ".local" / "bin" / APP
    assert launcher.is_symlink() and launcher.resolve() == installed.resolve()
    out = subprocess.run([str(launcher), "x.af"], capture_output=True, text=True).stdout
    assert out.strip() == "fake wizard: x.af"

    desktop = data / "applications" / f"{APP}.desktop"
    entry = desktop_entry(desktop)
    assert entry["Exec"] == f'"{installed}" %F'
    assert entry["TryExec"] == str(installed)
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True)
        assert check.returncode == 0, check.stdout
    for size in (16, 48, 256):
        assert (data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP}.png").is_file()
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / f"{APP}.svg").is_file()
    assert (data / "mime" / "packages" / f"{APP}.xml").is_file()
    if shutil.which("update-mime-database"):
        globs = (data / "mime" / "globs2").read_text(encoding="utf-8")
        assert "application/x-letta-agent-file:*.af" in globs

    run_install(home, fake_bundle, "--uninstall")
    assert not installed.exists() and not launcher.is_symlink()
    assert not desktop.exists()
    assert not list((data / "icons").rglob(f"{APP}.*"))
    assert not (data / "mime" / "packages" / f"{APP}.xml").exists()


@pytest.mark.skipif(
    not (sys.platform.startswith("linux") and shutil.which("update-mime-database")),
    reason="needs shared-mime-info",
)
def test_installed_mime_types_are_what_qt_sees(tmp_path: Path, fake_bundle: Path) -> None:
    home = tmp_path / "home"
    run_install(home, fake_bundle)
    names = {
        "agent.af": "application/x-letta-agent-file",
        "agentmemory-0.9.5-small.json": "application/x-agentmemory-export",
        "team.agentmemory.jsonl": "application/x-agentmemory-export-jsonl",
        "mem0-export.json": "application/x-mem0-export",
        "memories_export_alice.zip": "application/x-openmemory-export",
        "package.json": "application/json",  # plain JSON is not taken over
        "archive.zip": "application/zip",
    }
    code = (
        "import sys\n"
        "from PySide6.QtCore import QMimeDatabase\n"
        "db = QMimeDatabase()\n"
        "for name in sys.argv[1:]:\n"
        "    print(db.mimeTypeForFile(name, QMimeDatabase.MatchMode.MatchExtension).name())\n"
    )
    env = dict(os.environ, XDG_DATA_HOME=str(home / ".local" / "share"))
    env.setdefault("XDG_DATA_DIRS", "/usr/local/share:/usr/share")
    proc = subprocess.run(
        [sys.executable, "-c", code, *names], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert dict(zip(names, proc.stdout.split(), strict=True)) == names


@pytest.mark.skipif(
    not (
        sys.platform.startswith("linux")
        and shutil.which("update-mime-database")
        and shutil.which("gio")
    ),
    reason="needs shared-mime-info and GLib's gio",
)
def test_installed_suffix_types_are_what_glib_sees(tmp_path: Path, fake_bundle: Path) -> None:
    """GNOME's file manager (GLib) matches the suffix globs; see the note in the MIME XML."""
    home = tmp_path / "home"
    run_install(home, fake_bundle)
    files = tmp_path / "files"
    files.mkdir()
    json_text = '{"version": "0.9.5", "sessions": [], "memories": []}\n'
    names = {
        "agent.af": "application/x-letta-agent-file",
        "team.agentmemory.json": "application/x-agentmemory-export",
        "alice.mem0.json": "application/x-mem0-export",
        "backup.openmemory.zip": "application/x-openmemory-export",
        "package.json": "application/json",
    }
    for name in names:
        if name.endswith(".zip"):
            with zipfile.ZipFile(files / name, "w") as zf:
                zf.writestr("memories.json", json_text)
        else:
            (files / name).write_text(json_text, encoding="utf-8")
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"))
    env.setdefault("XDG_DATA_DIRS", "/usr/local/share:/usr/share")
    seen = {}
    for name in names:
        proc = subprocess.run(
            ["gio", "info", "-a", "standard::content-type", str(files / name)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        seen[name] = proc.stdout.strip().rsplit(" ", 1)[-1]
    assert seen == names
