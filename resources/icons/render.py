"""Render the app icon from its SVG sources into every size and container the packaging needs.

    python resources/icons/render.py           # rewrite the PNGs, the .ico and the .icns
    python resources/icons/render.py --check   # exit 1 if any output is missing or out of date

Inputs (the only hand-edited files):
- `agentmemory-wizard.svg`: the icon, used for 32 px and up;
- `small-sizes.svg`: the same picture on a 16-pixel grid with fewer details, used for
  16 and 24 px so the small sizes stay readable.

Outputs, next to this script:
- `hicolor/<N>x<N>/apps/agentmemory-wizard.png` for N in 16 24 32 48 64 128 256 512
  (the freedesktop icon-theme layout `packaging/linux/install.sh` copies);
- `hicolor/scalable/apps/agentmemory-wizard.svg` (a copy of the main SVG);
- `agentmemory-wizard.ico` (Windows: 16-256 px, PNG-compressed entries);
- `agentmemory-wizard.icns` (macOS: 16-1024 px, PNG entries).

Rendering uses Qt's own SVG renderer (PySide6 QtSvg, already a runtime dependency), and the .ico
and .icns containers are written here in plain Python, so no other tool is needed and the output is
byte-for-byte reproducible for a given Qt version.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = "agentmemory-wizard"
MAIN_SVG = HERE / f"{NAME}.svg"
SMALL_SVG = HERE / "small-sizes.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
SMALL_MAX = 24  # sizes up to this one come from the small-grid SVG

# ICNS element types holding PNG data, and the pixel size each one holds.
ICNS_TYPES: tuple[tuple[bytes, int], ...] = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"ic11", 32),  # 16@2x
    (b"icp6", 64),
    (b"ic12", 64),  # 32@2x
    (b"ic07", 128),
    (b"ic13", 256),  # 128@2x
    (b"ic08", 256),
    (b"ic14", 512),  # 256@2x
    (b"ic09", 512),
    (b"ic10", 1024),  # 512@2x
)


def png_path(size: int) -> Path:
    return HERE / "hicolor" / f"{size}x{size}" / "apps" / f"{NAME}.png"


def render_png(size: int) -> bytes:
    """The icon at `size` x `size` pixels as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    source = SMALL_SVG if size <= SMALL_MAX else MAIN_SVG
    renderer = QSvgRenderer(str(source))
    if not renderer.isValid():
        raise SystemExit(f"render.py: cannot read {source}")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    image = image.convertToFormat(QImage.Format.Format_ARGB32)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise SystemExit(f"render.py: cannot encode the {size} px PNG")
    buffer.close()
    return bytes(data.data())


def build_ico(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico whose entries are PNG images (supported since Windows Vista)."""
    sizes = [s for s in ICO_SIZES if s in pngs]
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        blob = pngs[size]
        dim = 0 if size >= 256 else size  # 0 means 256 in the directory entry
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset)
        blobs += blob
        offset += len(blob)
    return header + entries + blobs


def build_icns(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns with PNG elements for every size Finder and the Dock ask for."""
    body = b""
    for kind, size in ICNS_TYPES:
        blob = pngs[size]
        body += kind + struct.pack(">I", len(blob) + 8) + blob
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def outputs() -> dict[Path, bytes]:
    """Every generated file and its expected content."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    sizes = sorted(set(PNG_SIZES) | set(ICO_SIZES) | {s for _, s in ICNS_TYPES})
    pngs = {size: render_png(size) for size in sizes}
    files: dict[Path, bytes] = {png_path(size): pngs[size] for size in PNG_SIZES}
    files[HERE / "hicolor" / "scalable" / "apps" / f"{NAME}.svg"] = MAIN_SVG.read_bytes()
    files[HERE / f"{NAME}.ico"] = build_ico(pngs)
    files[HERE / f"{NAME}.icns"] = build_icns(pngs)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only report outputs that are missing or stale"
    )
    args = parser.parse_args(argv)
    stale = []
    for path, content in outputs().items():
        current = path.read_bytes() if path.exists() else None
        if current == content:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    for path in stale:
        verb = "stale" if args.check else "wrote"
        print(f"{verb}: {path.relative_to(HERE)}")
    if args.check and stale:
        return 1
    if not stale:
        print("icons are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
