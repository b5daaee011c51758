# Sourced by scripts/bench and scripts/sizes: makes `cargo lambda` and zig available, installing
# cargo-lambda and ziglang (both binaries on PyPI) into .venv when they are not on PATH already.
# cargo lambda builds with zig (cargo-zigbuild); it finds pip's ziglang through `python3 -m ziglang`,
# so .venv/bin goes first on PATH.
if [ -d .venv/bin ]; then export PATH="$PWD/.venv/bin:$PATH"; fi
if ! cargo lambda --version >/dev/null 2>&1 || ! { command -v zig >/dev/null || python3 -m ziglang version >/dev/null 2>&1; }; then
  echo "==> installing cargo-lambda and ziglang into .venv" >&2
  [ -x .venv/bin/pip ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check cargo-lambda ziglang
  export PATH="$PWD/.venv/bin:$PATH"
fi
