#!/usr/bin/env bash
# Installs what the tests need on top of the build tools: Debian's Chromium
# (Playwright drives it; it never downloads a browser of its own) and a
# PostgreSQL server for the integration suite; Tesseract, which reads the
# printed dates on photos, and the DejaVu font the tests print labels in;
# the image model for item matching and the sample photos it is tested on;
# moto (a local Cognito) and schemathesis (API contract checks) from PyPI.
source "$(dirname "$0")/lib.sh"

"$ROOT/scripts/setup-build.sh"
apt_install chromium chromium-driver postgresql fonts-dejavu-core tesseract-ocr tesseract-ocr-eng
[ -x /usr/bin/chromium ] || die "chromium did not install at /usr/bin/chromium"
command -v tesseract >/dev/null || die "tesseract did not install"
fetch_models samples
test_venv
pg_bin >/dev/null || die "PostgreSQL server binaries (initdb, pg_ctl) not found after install"
say "test tools ready"
