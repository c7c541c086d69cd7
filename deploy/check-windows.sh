#!/usr/bin/env bash
# The Windows build, checked on Linux: cross-builds the producer, the consumer and the query API
# for x86_64-pc-windows-gnu with Debian's mingw-w64 and runs them under Debian's Wine (both
# installed when missing, with the Rust target): `producer.exe check-config` prints its settings;
# `producer.exe` replays the sample day against a real Redis into the Linux producer's bars and
# checkpoints on the service manager's stop; `consumer.exe` and `query-api.exe` answer /readyz
# against real stores (tests/tests/windows.rs). Run by tests/run.sh. A real deployment builds on
# Windows with the MSVC toolchain (deploy/README.md, which says what remains untested there).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/packages.sh
ensure_packages x86_64-w64-mingw32-gcc=mingw-w64 wine=wine  # wine on amd64 brings wine64
target=x86_64-pc-windows-gnu
rustup target list --installed | grep -qx "$target" || rustup target add "$target"
cargo build --locked --target "$target" -p producer -p consumer -p query-api --bins
bin="target/$target/debug"
for exe in producer consumer query-api; do
  [ -s "$bin/$exe.exe" ] || { echo "$bin/$exe.exe was not built" >&2; exit 1; }
done
echo "built: $bin/producer.exe, consumer.exe, query-api.exe ($target)"

wine=$(command -v wine64 || { [ -x /usr/lib/wine/wine64 ] && echo /usr/lib/wine/wine64; } || true)
[ -n "$wine" ] || { echo "Wine's wine64 was not found after installing wine" >&2; exit 1; }
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT
cp "$bin/producer.exe" "$bin/consumer.exe" "$bin/query-api.exe" "$run/"
x86_64-w64-mingw32-gcc -shared -O2 -o "$run/bcryptprimitives.dll" deploy/windows/wine/bcryptprimitives.c -ladvapi32
WINEPREFIX="$run/prefix" WINEDEBUG=-all "$wine" wineboot --init >/dev/null 2>&1 || true
WINEPREFIX="$run/prefix" WINEDEBUG=-all TICKBAR__REDIS__URL=rediss://tickbar:pw@redis-host:6380/0 \
  "$wine" "$run/producer.exe" check-config > "$run/settings.json" 2> "$run/stderr.txt"
for want in '"listen": "127.0.0.1:9101"' '"url": "rediss://tickbar:(set)@redis-host:6380/0"' '"clock": "wall"'; do
  grep -qF "$want" "$run/settings.json" || { echo "producer.exe check-config under Wine lacks $want:" >&2; cat "$run/settings.json" "$run/stderr.txt" >&2; exit 1; }
done
echo "ran under $("$wine" --version): producer.exe check-config printed its settings (Redis URL from the environment, password hidden)"
WINEPREFIX="$run/prefix" WINEDEBUG=-all TICKBAR_WINDOWS_DIR="$run" TICKBAR_WINE="$wine" \
  cargo test --locked -p tickbar-tests --test windows -- --ignored
