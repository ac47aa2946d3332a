#!/usr/bin/env bash
# Idempotent: make Podman's Docker-compatible API available for the engine tests on a fresh
# Debian 12 machine (root), rootful and rootless, per ../shared/notes/docker-testing.md.
#
#   rootful:  podman system service on unix:///run/podman/podman.sock
#   rootless: the same, run by the unprivileged user $PODMAN_USER (subuid/subgid ranges from
#             useradd), on unix:///run/user/<uid>/podman/podman.sock
#
# The containers.conf written here is what THIS machine needs, not what users need: its
# limits make crun (Podman's default runtime) fail ("setrlimit RLIMIT_NOFILE: Operation not
# permitted", then "cgroups in hybrid mode not supported"); runc with cgroupfs works.
# Prints the two sockets as LOGTRAY_TEST_ENGINES would name them (see tests/stack/engines.py).
set -euo pipefail

PODMAN_USER=${PODMAN_USER:-logtray-podman}
ROOTFUL_SOCKET=/run/podman/podman.sock
started=$(date +%s.%N)

ping_socket() {
    curl -fsS --max-time 2 --unix-socket "$1" http://d/_ping >/dev/null 2>&1
}

missing=()
for p in podman uidmap slirp4netns fuse-overlayfs catatonit runc; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "podman-setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

conf=/etc/containers/containers.conf
want='# Written by logtray .ci/podman-setup.sh: what this CI machine needs (see the script).
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
'
if [ "$(cat "$conf" 2>/dev/null || true)" != "$want" ]; then
    mkdir -p /etc/containers
    printf '%s' "$want" >"$conf"
fi

# Rootless networking (slirp4netns) opens /dev/net/tun as the user: 0666 as on a normal system.
[ "$(stat -c %a /dev/net/tun)" = 666 ] || chmod 0666 /dev/net/tun

# The unprivileged user: useradd -m adds /etc/subuid and /etc/subgid ranges.
if ! id -u "$PODMAN_USER" >/dev/null 2>&1; then
    useradd -m -s /bin/bash "$PODMAN_USER"
fi
for f in /etc/subuid /etc/subgid; do
    grep -q "^$PODMAN_USER:" "$f" || usermod --add-subuids 200000-265535 --add-subgids 200000-265535 "$PODMAN_USER"
done
uid=$(id -u "$PODMAN_USER")
runtime_dir=/run/user/$uid
install -d -m 0700 -o "$PODMAN_USER" -g "$PODMAN_USER" "$runtime_dir" "$runtime_dir/podman"
ROOTLESS_SOCKET=$runtime_dir/podman/podman.sock

if ! ping_socket "$ROOTFUL_SOCKET"; then
    echo "podman-setup: starting rootful podman system service (log: /tmp/podman-rootful.log)"
    mkdir -p "$(dirname "$ROOTFUL_SOCKET")"
    rm -f "$ROOTFUL_SOCKET"
    # From / : conmon inherits the service's working directory, and fails ("write child:
    # broken pipe") once that directory is gone (a deleted clone of the repository).
    (cd / && exec setsid podman system service --time=0 "unix://$ROOTFUL_SOCKET" \
        >/tmp/podman-rootful.log 2>&1 </dev/null) &
fi
if ! ping_socket "$ROOTLESS_SOCKET"; then
    echo "podman-setup: starting rootless podman system service as $PODMAN_USER" \
        "(log: /tmp/podman-rootless.log)"
    rm -f "$ROOTLESS_SOCKET"
    : >/tmp/podman-rootless.log
    chown "$PODMAN_USER" /tmp/podman-rootless.log
    setsid runuser -u "$PODMAN_USER" -- env -i HOME="/home/$PODMAN_USER" USER="$PODMAN_USER" \
        PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin XDG_RUNTIME_DIR="$runtime_dir" \
        sh -c "cd && exec podman system service --time=0 unix://$ROOTLESS_SOCKET" \
        >>/tmp/podman-rootless.log 2>&1 </dev/null &
fi
for _ in $(seq 300); do
    ping_socket "$ROOTFUL_SOCKET" && ping_socket "$ROOTLESS_SOCKET" && break
    sleep 0.1
done
for pair in "rootful:$ROOTFUL_SOCKET:/tmp/podman-rootful.log" \
            "rootless:$ROOTLESS_SOCKET:/tmp/podman-rootless.log"; do
    IFS=: read -r mode sock logfile <<<"$pair"
    if ! ping_socket "$sock"; then
        echo "podman-setup: $mode podman did not answer on $sock within 30 s; its log:" >&2
        tail -n 30 "$logfile" >&2 || true
        exit 1
    fi
done
version=$(curl -fsS --unix-socket "$ROOTFUL_SOCKET" http://d/version \
    | sed -n 's/.*"Version":"\([^"]*\)".*/\1/p' | head -1)
echo "podman-setup: Podman $version rootful on unix://$ROOTFUL_SOCKET, rootless ($PODMAN_USER)" \
    "on unix://$ROOTLESS_SOCKET ($(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}') s)"
