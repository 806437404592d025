#!/usr/bin/env bash
# Install, upgrade or remove Gerbang on Raspberry Pi OS / Debian 12 (arm64, amd64).
#
#   sudo deploy/install.sh               install (or check) and enable + start the service
#   sudo deploy/install.sh --upgrade     install this checkout as a new release; roll back to
#                                        the previous virtual environment if it does not get ready
#   sudo deploy/install.sh --uninstall   remove code and unit; keep config, data and the user
#   sudo deploy/install.sh --uninstall --purge   remove those too
#
# Layout: /opt/gerbang/venvs/<version>-<UTC time>/ (one virtual environment per release),
# /opt/gerbang/venv -> the current one, /opt/gerbang/venv.previous -> the one before;
# /etc/gerbang/gateway.yaml (kept if present), /etc/gerbang/gerbang.env (secrets, kept),
# /var/lib/gerbang (state, the buffer), /etc/systemd/system/gerbang.service, user `gerbang`
# in group `dialout`.
#
# Idempotent: a second run with the same checkout changes no file. Where systemd is not PID 1
# (a container, a chroot, or --root DIR) it installs and enables, does not start, and says so.
# --root DIR installs into DIR as a prefix (a staging tree, an image being built, tests): the
# user is created in DIR/etc/passwd (useradd --root), apt is skipped, the unit is enabled with
# `systemctl --root`; the virtual environment's scripts then name DIR/opt/... paths, so DIR is
# for staging and testing, not for booting (run the installer inside the image for that).
set -euo pipefail
umask 022 # the service user must read /opt/gerbang, whatever root's umask is

NAME=gerbang
SERVICE=gerbang.service
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT=""
MODE=install
PURGE=0
APT=1
PYTHON=/usr/bin/python3
READY_TIMEOUT=120 # above the unit's TimeoutStartSec (90 s): systemd decides first
SETTLE="${GERBANG_INSTALL_SETTLE:-5}" # seconds a restarted service must stay up
APT_PACKAGES=(python3 python3-venv)

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    cat <<EOF

Options:
  --root DIR         install into DIR (a prefix; see the header of this script)
  --source DIR       the Gerbang checkout to install (default: $SRC)
  --python PATH      the Python used for the virtual environment (default: $PYTHON)
  --no-apt           do not install Debian packages
  --ready-timeout S  seconds a new release has to become ready (default: $READY_TIMEOUT)
  --upgrade | --uninstall [--purge] | -h, --help
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT="${2%/}"; shift 2 ;;
        --source) SRC="$2"; shift 2 ;;
        --python) PYTHON="$2"; shift 2 ;;
        --no-apt) APT=0; shift ;;
        --ready-timeout) READY_TIMEOUT="$2"; shift 2 ;;
        --upgrade) MODE=upgrade; shift ;;
        --uninstall) MODE=uninstall; shift ;;
        --purge) PURGE=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ "$PURGE" = 1 ] && [ "$MODE" != uninstall ]; then
    echo "install.sh: --purge goes with --uninstall" >&2
    exit 2
fi
if [ -n "$ROOT" ]; then
    ROOT="$(cd "$ROOT" && pwd)"
fi

OPT="$ROOT/opt/gerbang"
VENVS="$OPT/venvs"
CURRENT="$OPT/venv"
PREVIOUS="$OPT/venv.previous"
PENDING="$OPT/upgrade-pending"
ETC="$ROOT/etc/gerbang"
CONFIG="$ETC/gateway.yaml"
ENVFILE="$ETC/gerbang.env"
STATE="$ROOT/var/lib/gerbang"
UNITDIR="$ROOT/etc/systemd/system"
UNIT="$UNITDIR/$SERVICE"
ROOTOPT=()
[ -n "$ROOT" ] && ROOTOPT=(--root "$ROOT")

CHANGED=0
say() { echo "gerbang-install: $*"; }
changed() { CHANGED=1; say "$*"; }
die() { echo "gerbang-install: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (sudo $0 ...)"

# systemd manages services only when it is PID 1 of this very root (not --root, not a chroot).
# GERBANG_INSTALL_SYSTEMD=running is a test hook: the tests put a `systemctl` on PATH that
# plays systemd as PID 1 (this machine and CI have none) to exercise that branch.
booted() {
    [ "${GERBANG_INSTALL_SYSTEMD:-}" = running ] && return 0
    [ -z "$ROOT" ] && [ -d /run/systemd/system ] || return 1
    if command -v systemd-detect-virt >/dev/null && systemd-detect-virt --quiet --chroot; then
        return 1
    fi
    return 0
}

# -- small idempotent helpers: they touch a file only when it differs --------------------------

uid_of() { awk -F: -v n="$1" '$1 == n { print $3 }' "$ROOT/etc/passwd"; }
gid_of() { awk -F: -v n="$1" '$1 == n { print $3 }' "$ROOT/etc/group"; }

# ensure_owner PATH MODE UID GID
ensure_owner() {
    local now
    now="$(stat -c '%a %u %g' "$1")"
    if [ "$now" != "$2 $3 $4" ]; then
        chown -h "$3:$4" "$1"
        chmod "$2" "$1"
        changed "set $1 to mode $2, owner $3:$4"
    fi
}

# ensure_dir PATH MODE UID GID
ensure_dir() {
    if [ ! -d "$1" ]; then
        mkdir -p "$1"
        changed "created $1"
    fi
    ensure_owner "$@"
}

# ensure_file SOURCE DEST MODE UID GID: DEST gets SOURCE's content, written atomically.
ensure_file() {
    if [ ! -f "$2" ] || ! cmp -s "$1" "$2"; then
        install -m "$3" -o "$4" -g "$5" "$1" "$2.tmp"
        mv -f "$2.tmp" "$2"
        changed "wrote $2"
        return 0
    fi
    ensure_owner "$2" "$3" "$4" "$5"
    return 1
}

# ensure_link TARGET LINK: LINK points at TARGET, replaced atomically.
ensure_link() {
    if [ "$(readlink "$2" 2>/dev/null)" != "$1" ]; then
        ln -sfn "$1" "$2.new"
        mv -T "$2.new" "$2"
        changed "$2 -> $1"
    fi
}

# -- steps ---------------------------------------------------------------------------------

install_debian_packages() {
    if [ "$APT" = 0 ] || [ -n "$ROOT" ]; then
        say "not installing Debian packages (--root or --no-apt): needs ${APT_PACKAGES[*]}"
        return
    fi
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        changed "installing Debian packages: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
}

create_user() {
    [ -n "$(gid_of dialout)" ] || groupadd "${ROOTOPT[@]}" --system dialout
    if [ -z "$(uid_of "$NAME")" ]; then
        useradd "${ROOTOPT[@]}" --system --user-group --groups dialout \
            --home-dir /var/lib/gerbang --no-create-home --shell /usr/sbin/nologin \
            --comment "Gerbang telemetry gateway" "$NAME"
        changed "created user $NAME (group dialout for serial ports)"
    elif ! awk -F: '$1 == "dialout" { print $4 }' "$ROOT/etc/group" | tr ',' '\n' |
        grep -qx "$NAME"; then
        usermod "${ROOTOPT[@]}" -a -G dialout "$NAME"
        changed "added user $NAME to group dialout"
    fi
}

source_version() {
    sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$SRC/gateway/__init__.py"
}

# The release in a virtual environment folder ('' if none or incomplete).
release_of() {
    if [ -f "$1/.gerbang-release" ]; then
        cat "$1/.gerbang-release"
    fi
}

# build_venv DIR: a virtual environment with this checkout installed; DIR is removed on failure.
build_venv() {
    local dir="$1" copy
    [ ! -e "$dir" ] || die "$dir exists already; try again in a second"
    say "building $dir (python venv + pip install; a few minutes on a Raspberry Pi)"
    copy="$(mktemp -d)"
    # pip builds in the source tree: build from a copy so the checkout stays untouched.
    tar -C "$SRC" --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist \
        --exclude='*.egg-info' --exclude=__pycache__ --exclude=./.pytest_cache \
        --exclude=./.hypothesis --exclude=./.ruff_cache -cf - . | tar -C "$copy" -xf -
    mkdir -p "$VENVS"
    if ! "$PYTHON" -m venv "$dir" ||
        ! "$dir/bin/pip" install --quiet --disable-pip-version-check --no-input "$copy"; then
        rm -rf "$dir" "$copy"
        die "could not build the virtual environment (nothing else was changed)"
    fi
    rm -rf "$copy"
    "$dir/bin/gerbang" version >/dev/null || { rm -rf "$dir"; die "the new release does not run"; }
    source_version >"$dir/.gerbang-release"
    CHANGED=1
}

# Remove releases that are neither current nor previous, and half-built ones.
prune_venvs() {
    local keep_current keep_previous dir
    keep_current="$(readlink "$CURRENT" 2>/dev/null || true)"
    keep_previous="$(readlink "$PREVIOUS" 2>/dev/null || true)"
    for dir in "$VENVS"/*; do
        [ -d "$dir" ] || continue
        case "venvs/$(basename "$dir")" in
            "$keep_current" | "$keep_previous") ;;
            *) rm -rf "$dir"; changed "removed old release $dir" ;;
        esac
    done
}

install_config() {
    local gid uid example host
    uid="$(uid_of "$NAME")"
    gid="$(gid_of "$NAME")"
    ensure_dir "$ETC" 770 0 "$gid"
    if [ ! -e "$CONFIG" ]; then
        host="$(cat "$ROOT/etc/hostname" 2>/dev/null || hostname)"
        host="$(echo "$host" | LC_ALL=C tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9_\n-' '-' | sed 's/^[-_]*//' | cut -c1-64)"
        example="$(mktemp)"
        sed "s/^  id: edge-01 /  id: ${host:-edge-01} /" "$SRC/deploy/gateway.example.yaml" >"$example"
        ensure_file "$example" "$CONFIG" 640 "$uid" "$gid" || true
        rm -f "$example"
    else
        say "keeping $CONFIG"
    fi
    if [ ! -e "$ENVFILE" ]; then
        example="$(mktemp)"
        printf '%s\n' "# Secrets for \${VAR} in gateway.yaml, read by the systemd unit." \
            "# MQTT_PASSWORD=..." "# INFLUX_TOKEN=..." >"$example"
        ensure_file "$example" "$ENVFILE" 640 0 "$gid" || true
        rm -f "$example"
    fi
    ensure_dir "$STATE" 750 "$uid" "$gid"
}

install_unit() {
    mkdir -p "$UNITDIR"
    if ensure_file "$SRC/deploy/systemd/$SERVICE" "$UNIT" 644 0 0 && booted; then
        systemctl daemon-reload
    fi
}

enable_unit() {
    if booted; then
        systemctl is-enabled --quiet "$SERVICE" || { systemctl enable "$SERVICE"; changed "enabled $SERVICE"; }
    elif command -v systemctl >/dev/null; then
        systemctl --root="${ROOT:-/}" is-enabled --quiet "$SERVICE" 2>/dev/null || {
            systemctl --root="${ROOT:-/}" enable "$SERVICE" 2>&1
            changed "enabled $SERVICE (offline)"
        }
    else
        mkdir -p "$UNITDIR/multi-user.target.wants"
        ensure_link "/etc/systemd/system/$SERVICE" "$UNITDIR/multi-user.target.wants/$SERVICE"
    fi
}

# The gateway as the service would run it (its user, its secrets), for use without systemd:
# as_service SUBCOMMAND [PREFIX...], e.g. `as_service check`; PREFIX runs it (a probe).
as_service() {
    local sub="$1" user=()
    shift
    if [ -z "$ROOT" ] && command -v runuser >/dev/null; then
        user=(runuser -u "$NAME" --)
    fi
    (
        set -a
        if [ -r "$ENVFILE" ]; then
            # shellcheck disable=SC1090
            . "$ENVFILE"
        fi
        set +a
        export PYTHONDONTWRITEBYTECODE=1
        exec "$@" "${user[@]}" "$CURRENT/bin/gerbang" "$sub" -c "$CONFIG"
    )
}

# Is the current release ready? With systemd: (re)start the unit, which returns once READY=1
# came (Type=notify), and check it stays up. Without: run it once under ready_probe.py.
service_ready() {
    if booted; then
        timeout "$READY_TIMEOUT" systemctl restart "$SERVICE" || return 1
        sleep "$SETTLE"
        systemctl is-active --quiet "$SERVICE"
    else
        as_service run "$PYTHON" "$SRC/deploy/ready_probe.py" --timeout "$READY_TIMEOUT" --
    fi
}

start_service() {
    if booted; then
        if [ "$CHANGED" = 1 ] || ! systemctl is-active --quiet "$SERVICE"; then
            say "starting $SERVICE"
            service_ready || die "$SERVICE did not become ready: journalctl -u $NAME -n 50"
            say "$SERVICE is running: $(systemctl show -p StatusText --value "$SERVICE")"
        fi
    else
        say "systemd is not running here (container, chroot or --root): installed and enabled," \
            "not started; it starts at the next boot"
        if ! as_service check >/dev/null; then
            say "warning: $CONFIG is not valid yet:"
            as_service check || true
        fi
    fi
}

# An upgrade that was cut short before its release proved ready: go back to the one before.
finish_interrupted_upgrade() {
    [ -f "$PENDING" ] || return 0
    local old
    old="$(cat "$PENDING")"
    if [ -n "$old" ] && [ -d "$OPT/$old" ]; then
        say "an upgrade was interrupted before its release became ready: back to $old"
        ensure_link "$old" "$CURRENT"
        if booted; then
            service_ready || say "warning: $old does not get ready either"
        fi
    fi
    rm -f "$PENDING"
    CHANGED=1
}

do_install() {
    install_debian_packages
    create_user
    finish_interrupted_upgrade
    local want have
    want="$(source_version)"
    have="$(release_of "$CURRENT")"
    if [ -z "$have" ]; then
        local dir
        dir="$VENVS/$want-$(date -u +%Y%m%d%H%M%S)"
        build_venv "$dir"
        ensure_link "venvs/$(basename "$dir")" "$CURRENT"
    elif [ "$have" = "$want" ]; then
        say "gerbang $have is installed in $(readlink -f "$CURRENT")"
    else
        say "gerbang $have is installed; this checkout is $want: run with --upgrade to install it"
    fi
    prune_venvs
    install_config
    install_unit
    enable_unit
    start_service
    [ "$CHANGED" = 1 ] || say "nothing to change"
}

do_upgrade() {
    local old new want
    finish_interrupted_upgrade
    old="$(readlink "$CURRENT" 2>/dev/null || true)"
    if [ -z "$old" ] || [ -z "$(release_of "$CURRENT")" ]; then
        say "no release installed yet: installing"
        do_install
        return
    fi
    install_debian_packages
    create_user
    want="$(source_version)"
    new="venvs/$want-$(date -u +%Y%m%d%H%M%S)"
    build_venv "$OPT/$new"
    install_config
    install_unit
    enable_unit
    # Until the new release is known good, the marker names the release to go back to: an
    # upgrade cut short (Ctrl-C, a power cut) is rolled back by the next run of this script.
    echo "$old" >"$PENDING"
    ensure_link "$new" "$CURRENT"
    say "checking that gerbang $want becomes ready (up to $READY_TIMEOUT s)"
    if service_ready; then
        ensure_link "$old" "$PREVIOUS"
        rm -f "$PENDING"
        prune_venvs
        say "upgraded to gerbang $want; the previous release stays in $OPT/$old"
        booted || say "systemd is not running here: not started; it starts at the next boot"
        return 0
    fi
    say "gerbang $want did not become ready: rolling back to $old"
    ensure_link "$old" "$CURRENT"
    rm -f "$PENDING"
    rm -rf "${OPT:?}/$new"
    if booted; then
        service_ready || say "warning: the previous release does not get ready either"
    fi
    die "upgrade failed; rolled back to $(release_of "$CURRENT") in $OPT/$old"
}

do_uninstall() {
    if [ -e "$UNIT" ]; then
        if booted; then
            systemctl disable --now "$SERVICE" || true
        elif command -v systemctl >/dev/null; then
            systemctl --root="${ROOT:-/}" disable "$SERVICE" 2>&1 || true
        fi
        rm -f "$UNITDIR/multi-user.target.wants/$SERVICE" "$UNIT"
        if booted; then
            systemctl daemon-reload
        fi
        changed "removed $SERVICE"
    fi
    if [ -e "$OPT" ]; then
        rm -rf "$OPT"
        changed "removed $OPT"
    fi
    if [ "$PURGE" = 1 ]; then
        local path
        for path in "$ETC" "$STATE" "$UNITDIR/$SERVICE.d"; do
            if [ -e "$path" ]; then
                rm -rf "$path"
                changed "removed $path"
            fi
        done
        if [ -n "$(uid_of "$NAME")" ]; then
            userdel "${ROOTOPT[@]}" "$NAME"
            changed "removed user $NAME"
        fi
        if [ -n "$(gid_of "$NAME")" ]; then
            groupdel "${ROOTOPT[@]}" "$NAME"
        fi
    else
        say "kept $ETC, $STATE and user $NAME (--purge removes them)"
    fi
    [ "$CHANGED" = 1 ] || say "nothing to remove"
}

case "$MODE" in
    install) do_install ;;
    upgrade) do_upgrade ;;
    uninstall) do_uninstall ;;
esac
