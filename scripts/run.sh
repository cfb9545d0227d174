#!/usr/bin/env bash
# Sets up what is missing, builds, and runs Larder on its embedded defaults
# (SQLite under ./data, http://127.0.0.1:3000). Every LARDER_* variable and
# DATABASE_URL in the environment is passed through; see the README.
source "$(dirname "$0")/lib.sh"

# Tesseract reads the printed dates on donation photos (offline); without
# it Larder runs and reads barcodes only.
apt_install tesseract-ocr tesseract-ocr-eng
# The image model that recognises items without a barcode.
fetch_models
"$ROOT/scripts/build.sh" --release
export LARDER_SITE_ROOT="${LARDER_SITE_ROOT:-$ROOT/target/site}"
say "starting Larder on http://${LARDER_LISTEN:-127.0.0.1:3000}"
exec "$ROOT/target/release/larder"
