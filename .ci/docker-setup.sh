#!/usr/bin/env bash
# Idempotent: make a Docker engine available for the stack tests on a fresh Debian 12 machine
# (root), per ../shared/notes/docker-testing.md. Installs Debian's docker.io (engine 20.10),
# busybox-static (the stand-in images), docker-compose 1.29 (the benchmark's baseline) and
# docker-registry (a loopback registry for the pull tests) when
# missing, starts dockerd detached when it does not answer, and waits until it does.
set -euo pipefail

ping_docker() {
    curl -fsS --max-time 2 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1
}

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
[ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || missing+=(busybox-static)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
# A registry on 127.0.0.1 for the pull tests (its service is not started: the tests run it).
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "docker-setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! ping_docker; then
    echo "docker-setup: starting dockerd (log: /tmp/dockerd.log)"
    setsid dockerd >/tmp/dockerd.log 2>&1 </dev/null &
fi
for _ in $(seq 300); do
    ping_docker && break
    sleep 0.1
done
if ! ping_docker; then
    echo "docker-setup: dockerd did not answer within 30 s; its log:" >&2
    tail -n 30 /tmp/dockerd.log >&2 || true
    exit 1
fi
echo "docker-setup: engine $(curl -fsS --unix-socket /var/run/docker.sock http://localhost/version \
    | sed -n 's/.*"Version":"\([^"]*\)".*/\1/p' | head -1) is running"
