#!/usr/bin/env bash
# Installs what the tests need on top of the build tools: Debian's Chromium
# (Playwright drives it; it never downloads a browser of its own) and a
# PostgreSQL server for the integration suite; Tesseract, which reads the
# printed dates on photos, and the DejaVu font the tests print labels in;
# the image model for item matching and the sample photos it is tested on;
# moto (a local Cognito) and schemathesis (API contract checks) from PyPI;
# RabbitMQ and Redis, which the scale-out tests start on loopback, each in
# a directory of its own.
source "$(dirname "$0")/lib.sh"

"$ROOT/scripts/setup-build.sh"
apt_install chromium chromium-driver postgresql fonts-dejavu-core tesseract-ocr tesseract-ocr-eng \
  rabbitmq-server redis-server
[ -x /usr/bin/chromium ] || die "chromium did not install at /usr/bin/chromium"
command -v tesseract >/dev/null || die "tesseract did not install"
fetch_models samples
test_venv
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || die "rabbitmq-server did not install"
command -v redis-server >/dev/null || die "redis-server did not install"
pg_bin >/dev/null || die "PostgreSQL server binaries (initdb, pg_ctl) not found after install"
say "test tools ready"
