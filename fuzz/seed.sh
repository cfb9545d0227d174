#!/usr/bin/env bash
# Makes a start corpus for the photo_upload fuzz target: small JPEGs
# (baseline, progressive, with Exif and an orientation, with a trailer)
# and PNGs (grey, RGBA, with a text chunk), drawn with Pillow from PyPI in
# a virtual environment of its own.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q 'pillow>=10,<12'
mkdir -p "$here/corpus/photo_upload"
"$venv/bin/python" - "$here/corpus/photo_upload" <<'PY'
import io, sys
from PIL import Image, PngImagePlugin
out = sys.argv[1]
def save(name, data):
    open(f"{out}/{name}", "wb").write(data)
img = Image.new("RGB", (24, 16))
for x in range(24):
    for y in range(16):
        img.putpixel((x, y), (x * 10, y * 15, 128))
for name, kw in [("baseline.jpg", {}), ("progressive.jpg", {"progressive": True}), ("q20.jpg", {"quality": 20})]:
    b = io.BytesIO(); img.save(b, "JPEG", **kw); save(name, b.getvalue())
exif = Image.Exif(); exif[0x0112] = 6; exif[0x010F] = "Camera"
b = io.BytesIO(); img.save(b, "JPEG", exif=exif.tobytes()); save("exif-orientation.jpg", b.getvalue())
save("trailer.jpg", b.getvalue() + b"MOTION-PHOTO-TRAILER" * 4)
for name, mode in [("grey.png", "L"), ("rgba.png", "RGBA"), ("palette.png", "P")]:
    b = io.BytesIO(); img.convert(mode).save(b, "PNG"); save(name, b.getvalue())
info = PngImagePlugin.PngInfo(); info.add_text("Comment", "GPS 51.5N")
b = io.BytesIO(); img.save(b, "PNG", pnginfo=info); save("text.png", b.getvalue())
PY
echo "corpus: $(ls "$here/corpus/photo_upload" | wc -l) files in $here/corpus/photo_upload"
