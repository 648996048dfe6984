#!/usr/bin/env bash
# Builds deploy/Dockerfile and runs the image the way production does, with no Docker daemon and no
# registry (docs/deploy.md, "How CI builds and runs the image"):
#   1. tools  buildah, podman, runc, debootstrap: installed with apt when missing
#   2. base   Debian bookworm (minbase + python3, python3-venv, ca-certificates) from the machine's
#             Debian mirror, debootstrapped once per machine and cached under $CACHE, keyed by the
#             release, the package list, the mirror and this recipe
#   3. build  buildah, chroot isolation, vfs storage: --build-arg BASE=<that base>; pip inside the
#             build gets the host's CA bundle and the machine's pip index, read-only, at run time
#   4. run    scripts/image_check.py: podman (runc, cgroupfs) runs the image read-only as its own
#             user against local Slack and the emulator, and checks it serves, holds no stand-in
#             and stops cleanly on SIGTERM
# Exits non-zero at the first failure. Root only (buildah's chroot isolation, debootstrap).
# Run: scripts/image_check.sh (or `make image-check`); .ci/run calls it after `make test`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

CACHE="${TPUBOT_IMAGE_CACHE:-/var/cache/tpu-bot}"
RELEASE=bookworm
PACKAGES=python3,python3-venv,ca-certificates
RECIPE=1  # bump when the base's recipe below changes, so cached bases are rebuilt
IMAGE="localhost/tpu-bot:ci-$$"  # one per run: runs on the same machine don't trade images
PYTHON="${PYTHON:-$root/.venv/bin/python}"

# Private container storage under the cache: nothing shared with other users of buildah/podman
# here, and the base survives between runs.
runroot="/run/tpu-bot-containers-$(printf '%s' "$CACHE" | sha256sum | cut -c1-8)"
STORAGE=(--root "$CACHE/containers" --runroot "$runroot" --storage-driver vfs)

say() { printf '== %s\n' "$*"; }
fail() { printf 'image check FAILED: %s\n' "$*" >&2; exit 1; }

timings=()
step_started=0
step_name=""
step() {
  local now
  now="$(date +%s.%N)"
  if [ -n "$step_name" ]; then
    timings+=("$(awk -v n="$step_name" -v a="$step_started" -v b="$now" \
      'BEGIN { printf "  %-6s %6.1f s", n, b - a }')")
  fi
  step_name="$1"
  step_started="$now"
  [ -z "$1" ] || say "$1"
}
report() {
  step ""
  printf '%s\n' "image check timings:" "${timings[@]}"
}

[ "$(id -u)" = 0 ] || fail "needs root (buildah's chroot isolation and debootstrap)"
[ -x "$PYTHON" ] || fail "$PYTHON is missing: run \`make .venv/.installed\` first"
started="$(date +%s.%N)"

# ---- 1. tools -------------------------------------------------------------------------------------
step tools
missing=()
for tool in buildah:buildah podman:podman runc:runc debootstrap:debootstrap; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" conmon >/dev/null
fi

# ---- 2. base --------------------------------------------------------------------------------------
step base
# The machine's Debian mirror for $RELEASE (deb822 .sources or one-line sources.list), never a
# committed one; Debian's own as the fallback.
mirror="$(
  { cat /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } | awk -v rel="$RELEASE" '
    /^URIs:/ { uri = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == rel) { print uri; exit } }'
)"
if [ -z "$mirror" ]; then
  mirror="$({ cat /etc/apt/sources.list 2>/dev/null || true; } |
    awk -v rel="$RELEASE" '$1 == "deb" && $3 == rel { print $2; exit }')"
fi
mirror="${mirror:-http://deb.debian.org/debian}"
key="$(printf '%s\n' "$RELEASE" "$PACKAGES" "$mirror" "$RECIPE" "$(uname -m)" | sha256sum | cut -c1-16)"
base_tar="$CACHE/base-$RELEASE-$key.tar"
base_image="localhost/tpu-bot-ci-base:$RELEASE-$key"
mkdir -p "$CACHE"
if ! buildah "${STORAGE[@]}" inspect --type image "$base_image" >/dev/null 2>&1; then
  if [ ! -s "$base_tar" ]; then
    say "debootstrap $RELEASE ($PACKAGES) from the machine's mirror; cached as $base_tar"
    rootfs="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase --include="$PACKAGES" "$RELEASE" "$rootfs" "$mirror" \
      >"$CACHE/debootstrap.log" 2>&1 || fail "debootstrap (see $CACHE/debootstrap.log)"
    # What an image needs no copy of: package caches and lists, documentation.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
      "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
      "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
    tar --numeric-owner --xattrs -C "$rootfs" -cf "$base_tar.part" .
    mv "$base_tar.part" "$base_tar"
    rm -rf "$rootfs"
    trap - EXIT
  fi
  say "importing $base_tar as $base_image"
  ctr="$(buildah "${STORAGE[@]}" from scratch)"
  mnt="$(buildah "${STORAGE[@]}" mount "$ctr")"
  tar --numeric-owner --xattrs -C "$mnt" -xf "$base_tar"
  buildah "${STORAGE[@]}" umount "$ctr" >/dev/null
  buildah "${STORAGE[@]}" config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
    --cmd python3 "$ctr"
  buildah "${STORAGE[@]}" commit --quiet --rm "$ctr" "$base_image" >/dev/null
fi

# ---- 3. build -------------------------------------------------------------------------------------
step build
work="$(mktemp -d)"
cleanup() {
  buildah "${STORAGE[@]}" rmi --force "$IMAGE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# pip inside the build: the machine's index (PIP_INDEX_URL or pip's own config), read now and
# mounted read-only as the build's /etc/pip.conf, never written into the repository or the image.
pip_get() { python3 -m pip config get "$1" 2>/dev/null || true; }
index_url="${PIP_INDEX_URL:-$(pip_get global.index-url)}"
index_url="${index_url:-$(pip_get install.index-url)}"
extra_urls=""
for url in ${PIP_EXTRA_INDEX_URL:-$(pip_get global.extra-index-url)}; do
  case "$url" in http://* | https://*) extra_urls="$extra_urls $url" ;; esac  # not local file:// ones
done
trusted="${PIP_TRUSTED_HOST:-$(pip_get global.trusted-host)}"
ca_bundle="${PIP_CERT:-$(pip_get global.cert)}"
ca_bundle="${ca_bundle:-/etc/ssl/certs/ca-certificates.crt}"
[ -s "$ca_bundle" ] || fail "no CA bundle at $ca_bundle"
{
  echo "[global]"
  [ -z "$index_url" ] || echo "index-url = $index_url"
  [ -z "$extra_urls" ] || echo "extra-index-url =$extra_urls"
  [ -z "$trusted" ] || echo "trusted-host = $trusted"
  echo "cert = /etc/ssl/certs/ca-certificates.crt"
} >"$work/pip.conf"
buildah "${STORAGE[@]}" bud --isolation chroot --format docker --layers=false --pull=never \
  --file deploy/Dockerfile --ignorefile deploy/Dockerfile.dockerignore \
  --build-arg BASE="$base_image" \
  --volume "$ca_bundle:/etc/ssl/certs/ca-certificates.crt:ro" \
  --volume "$work/pip.conf:/etc/pip.conf:ro" \
  --tag "$IMAGE" . >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; fail "build"; }

# ---- 4. run and check -----------------------------------------------------------------------------
step run
"$PYTHON" scripts/image_check.py --image "$IMAGE" -- \
  podman "${STORAGE[@]}" --runtime runc --cgroup-manager cgroupfs --events-backend file \
  || fail "the image did not run as it should (above)"

report
awk -v a="$started" -v b="$(date +%s.%N)" -v base="$base_image" -v image="$IMAGE" \
  'BEGIN { printf "image check passed in %.0f s (base %s, image %s)\n", b - a, base, image }'
