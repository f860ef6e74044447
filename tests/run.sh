#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need on a fresh Debian machine,
# then checks formatting and lints and runs every test on SQLite and on a real PostgreSQL server.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v xmllint >/dev/null 2>&1 || missing+=(libxml2-utils)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
compgen -G "/usr/lib/*/engines-3/gost.so" >/dev/null || missing+=(libengine-gost-openssl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
# The package test (tests/package.rs) makes a clean Debian root; the instances test (tests/instances.rs)
# puts nginx in front of the instances.
[ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The API contract test (tests/api_contract.rs) runs Schemathesis, from PyPI, against the OpenAPI document.
python3 -m schemathesis.cli --version >/dev/null 2>&1 || python3 -m pip install -q --disable-pip-version-check 'schemathesis==4.32.5'
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed | grep -q '^clippy' || rustup component add clippy

# A CI run builds once in a fresh clone: incremental build state and full debug information would only fill
# its disk (a debug build of the workspace is ≈ 16 GiB with them, and one CI run failed on a full disk).
# Line tables keep the file and line of every frame in a test's backtrace.
if [ "${CI:-}" = true ]; then
    export CARGO_INCREMENTAL=0 CARGO_PROFILE_DEV_DEBUG=line-tables-only
fi
echo "free disk space: $(df -h --output=avail . | tail -1 | tr -d ' ')"

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# The SDK's test helpers for plugin authors (`testing`, a feature no workspace crate enables).
cargo clippy -p ipra-plugin-sdk --features testing --all-targets -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast
fi
# nextest does not run documentation examples; the plugin SDK's examples are tests too.
cargo test --workspace --doc
cargo test -p ipra-plugin-sdk --features testing --doc
# A short fuzzing run of every document reader on mutations of the public samples (README, «Fuzzing»).
cargo run -q -p ipra-fuzz --profile fuzz -- --target all --seconds 40
