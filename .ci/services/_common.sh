# Shared helpers of the .ci/services scripts (sourced, not run).
# Everything the services write lives under $KIT_SERVICES_DIR (default /tmp/kit-services), so a
# developer can wipe it; the -down scripts stop daemons by the PIDs recorded there.
set -euo pipefail
KIT_SERVICES_DIR="${KIT_SERVICES_DIR:-/tmp/kit-services}"
mkdir -p "$KIT_SERVICES_DIR"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

# Install the Debian packages if any of the given commands is missing; `apt-get update` only
# when a plain install fails (stale package lists), because update costs time and network.
ensure_packages() {
  local missing=0 cmd
  for cmd in $KIT_REQUIRED_COMMANDS; do
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing=1
  done
  [ "$missing" = 0 ] && return 0
  log "installing Debian packages: $KIT_PACKAGES"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  if ! apt-get install -y --no-install-recommends $KIT_PACKAGES >"$KIT_SERVICES_DIR/apt.log" 2>&1; then
    apt-get update >>"$KIT_SERVICES_DIR/apt.log" 2>&1
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $KIT_PACKAGES >>"$KIT_SERVICES_DIR/apt.log" 2>&1 \
      || { log "apt-get install failed; see $KIT_SERVICES_DIR/apt.log"; exit 1; }
  fi
}

# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND every 0.2 s until it succeeds.
wait_for() {
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then log "timed out after ${limit}s waiting for $what"; return 1; fi
    sleep 0.2
  done
}

# stop_pidfile FILE NAME: TERM the recorded process, wait up to 15 s for it to exit, then KILL.
stop_pidfile() {
  local file=$1 name=$2 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
  fi
  rm -f "$file"
}

# write_env_atomically FILE: stdin -> FILE through a temp file, so readers never see half of it.
write_env_atomically() {
  local file=$1 tmp
  tmp=$(mktemp "$file.XXXXXX")
  cat >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$file"
}
