#!/usr/bin/env bash
# Build the double-clickable app: a PyInstaller one-folder bundle, then smoke-test it.
#
#   bash packaging/build.sh
#
# Output: dist/agentmemory-wizard/agentmemory-wizard (Windows: agentmemory-wizard.exe, windowed,
# plus agentmemory-wizard-cli.exe for the command line; macOS: also
# "dist/AgentMemory Migration Wizard.app"). Works from a fresh clone on Linux, macOS and Windows
# (Git Bash); build on each OS for that OS.
#
# Which Python builds it:
#   PYTHON=/path/to/python   use that interpreter (a virtualenv's, preferably)
#   an active virtualenv     otherwise, use $VIRTUAL_ENV
#   neither                  create build/venv with ${BOOTSTRAP_PYTHON:-python3} (3.11+)
# The project is installed into it with the `build` extra (pip install -e ".[build]"), which
# brings PyInstaller; SKIP_INSTALL=1 skips that step.
# SKIP_SMOKE_TEST=1 skips the final `--self-test` run of the bundle.
set -euo pipefail

APP=agentmemory-wizard
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
START=$SECONDS

venv_python() {
    if [ -x "$1/bin/python" ]; then
        printf '%s\n' "$1/bin/python"
    elif [ -x "$1/Scripts/python.exe" ]; then
        printf '%s\n' "$1/Scripts/python.exe"
    else
        return 1
    fi
}

# The version in pyproject.toml (what --version must print).
project_version() {
    "$PY" - "$ROOT/pyproject.toml" <<'EOF'
import sys

try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib
with open(sys.argv[1], "rb") as f:
    print(tomllib.load(f)["project"]["version"])
EOF
}

if [ -n "${PYTHON:-}" ]; then
    PY="$PYTHON"
elif [ -n "${VIRTUAL_ENV:-}" ] && PY="$(venv_python "$VIRTUAL_ENV")"; then
    :
else
    VENV="$ROOT/build/venv"
    if ! PY="$(venv_python "$VENV")"; then
        echo "==> creating $VENV"
        "${BOOTSTRAP_PYTHON:-python3}" -m venv "$VENV"
        PY="$(venv_python "$VENV")"
    fi
fi
"$PY" - <<'EOF'
import sys

if sys.version_info < (3, 10):
    sys.exit(f"build.sh: Python 3.10+ is needed, {sys.executable} is {sys.version.split()[0]}")
if sys.version_info < (3, 11):
    try:
        import tomli  # noqa: F401  (the spec reads pyproject.toml with tomllib or tomli)
    except ImportError:
        sys.exit("build.sh: on Python 3.10 install tomli first (or build with Python 3.11+)")
EOF
echo "==> Python: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
    echo "==> installing the project with the build extra"
    "$PY" -m pip install --disable-pip-version-check -q -e "$ROOT[build]"
fi

for icon in "resources/icons/$APP.ico" "resources/icons/$APP.icns" \
    "resources/icons/hicolor/256x256/apps/$APP.png"; do
    if [ ! -f "$icon" ]; then
        echo "build.sh: missing $icon (run: $PY resources/icons/render.py)" >&2
        exit 1
    fi
done

echo "==> running PyInstaller"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" \
    "$HERE/$APP.spec"
BUILD_SECONDS=$((SECONDS - START))

BUNDLE="$ROOT/dist/$APP"
case "$(uname -s)" in
    MINGW* | MSYS* | CYGWIN*) EXE="$BUNDLE/$APP-cli.exe" ;;  # the windowed .exe has no stdout
    *) EXE="$BUNDLE/$APP" ;;
esac
if [ ! -x "$EXE" ]; then
    echo "build.sh: PyInstaller did not produce $EXE" >&2
    exit 1
fi

if [ "${SKIP_SMOKE_TEST:-0}" != 1 ]; then
    echo "==> smoke test: $EXE --version / --self-test (QT_QPA_PLATFORM=offscreen)"
    SMOKE="$(mktemp -d)"
    trap 'rm -rf "$SMOKE"' EXIT
    export QT_QPA_PLATFORM=offscreen
    export AGENTMEMORY_WIZARD_DB="$SMOKE/store.sqlite" AGENTMEMORY_WIZARD_LOG_DIR="$SMOKE/log"
    EXPECTED="$APP $(project_version)"
    VERSION_OUT="$("$EXE" --version | tr -d '\r')"
    echo "$VERSION_OUT"
    if [ "$VERSION_OUT" != "$EXPECTED" ]; then
        echo "build.sh: --version printed '$VERSION_OUT', expected '$EXPECTED'" >&2
        exit 1
    fi
    if ! "$EXE" --self-test; then
        cat "$SMOKE"/log/selftest-failure.log 2>/dev/null || true
        echo "build.sh: the bundle's self-test failed" >&2
        exit 1
    fi
fi

SIZE_MB="$(du -sk "$BUNDLE" | awk '{printf "%.0f", $1 / 1024}')"
echo "==> built $BUNDLE in ${BUILD_SECONDS} s: ${SIZE_MB} MB on disk"
if [ -d "$ROOT/dist/AgentMemory Migration Wizard.app" ]; then
    echo "==> macOS app: $ROOT/dist/AgentMemory Migration Wizard.app"
fi
