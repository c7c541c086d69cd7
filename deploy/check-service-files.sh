#!/usr/bin/env bash
# Checks the service files: the systemd units with `systemd-analyze verify` (where systemd is
# installed; any complaint fails), and the launchd plists as property lists (Python's plistlib,
# the equivalent of `plutil -lint`) with the keys launchd needs. Run by tests/run.sh.
set -euo pipefail
cd "$(dirname "$0")"
services=(producer consumer query-api)

if command -v systemd-analyze >/dev/null; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  for s in "${services[@]}"; do
    unit=systemd/tickbar-$s.service
    grep -q "^ExecStart=/opt/tickbar/bin/$s " "$unit" || { echo "$unit: ExecStart is not $s" >&2; exit 1; }
    for key in "Restart=on-failure" "EnvironmentFile=-/etc/tickbar/$s.env" "After=network-online.target redis-server.service" "NoNewPrivileges=yes"; do
      grep -q "^$key" "$unit" || { echo "$unit: no $key" >&2; exit 1; }
    done
    # The binary is installed elsewhere; verify the unit around an executable that exists here.
    sed "s#^ExecStart=/opt/tickbar/bin/$s#ExecStart=/bin/true#" "$unit" > "$tmp/tickbar-$s.service"
  done
  complaints=$(systemd-analyze verify "$tmp"/*.service 2>&1 || true)
  if [ -n "$complaints" ]; then echo "$complaints" >&2; exit 1; fi
  echo "systemd units: verified"
else
  echo "systemd units: systemd-analyze not installed here, not verified"
fi

python3 - "${services[@]}" <<'PY'
import plistlib, sys
for s in sys.argv[1:]:
    path = f"launchd/com.tickbar.{s}.plist"
    with open(path, "rb") as f:
        p = plistlib.load(f)
    assert p["Label"] == f"com.tickbar.{s}", path
    assert p["ProgramArguments"][0].endswith(f"/bin/{s}") and "--config" in p["ProgramArguments"], path
    assert p["KeepAlive"] == {"SuccessfulExit": False} and p["RunAtLoad"] is True, path
print("launchd plists: valid")
PY
