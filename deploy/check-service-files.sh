#!/usr/bin/env bash
# Checks the service files: the systemd units with `systemd-analyze verify` (where systemd is
# installed; any complaint fails), the launchd plists as property lists (Python's plistlib, the
# equivalent of `plutil -lint`) with the keys launchd needs, and the WinSW service definitions as
# XML with what the service needs (its binary and config, restart on failure, a stop timeout
# above the services' 10 s, the LocalService account). Run by tests/run.sh.
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

import re
import xml.etree.ElementTree as ET
for s in sys.argv[1:]:
    path = f"windows/tickbar-{s}.xml"
    root = ET.parse(path).getroot()
    text = lambda tag: (root.findtext(tag) or "").strip()
    assert root.tag == "service" and text("id") == f"tickbar-{s}", path
    assert text("executable") == rf"%BASE%\bin\{s}.exe", (path, text("executable"))
    assert text("arguments") == rf'--config "%BASE%\{s}.toml"', (path, text("arguments"))
    assert [f.get("action") for f in root.findall("onfailure")] == ["restart"] * 3, path
    seconds = int(re.fullmatch(r"(\d+) sec", text("stoptimeout")).group(1))
    assert 10 < seconds <= 30, (path, seconds)
    assert root.findtext("serviceaccount/user") == "LocalService", path
    assert root.find("log").get("mode") == "roll-by-size", path
print("WinSW service definitions: valid")
PY
