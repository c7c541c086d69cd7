# Sourced by deploy/demo.sh and tests/run.sh. `ensure_packages COMMANDS=PACKAGE ...` installs with
# apt-get (sudo when not root) the Debian packages none of whose commands (`a|b`) is found; without
# apt-get (macOS) it prints the brew line and fails. Debian's packages start their own system
# services on the default ports; tickbar's demo and tests leave those alone and run their own.
ensure_packages() {
  local need=() brew=() spec commands package command found
  for spec in "$@"; do
    commands=${spec%%=*} package=${spec##*=} found=""
    IFS='|' read -ra alternatives <<< "$commands"
    for command in "${alternatives[@]}"; do
      if command -v "$command" >/dev/null || [ -x "/usr/sbin/$command" ]; then found=1; fi
    done
    if [ -z "$found" ]; then
      need+=("$package")
      case $package in
        redis-server) brew+=(redis) ;;
        clickhouse-server) brew+=(clickhouse) ;;
        python3-venv) ;;
        python3) brew+=(python) ;;
        *) brew+=("$package") ;;
      esac
    fi
  done
  [ ${#need[@]} -gt 0 ] || return 0
  if ! command -v apt-get >/dev/null; then
    echo "missing ${need[*]}: install them first, on macOS: brew install ${brew[*]}" >&2
    return 1
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${need[*]} (apt-get)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
}
