#!/usr/bin/env bash
# Builds the container images of the end-to-end tests without Docker or a registry, as
# docker-archive tars (manifest.json, an image config, one uncompressed layer) that
# `ctr -n k8s.io images import TAR` loads into the node's containerd. Each is cached under
# $cache/images/NAME/VERSION-KEY/image.tar, KEY hashing its recipe (the functions below
# that make it) and inputs, so a changed recipe rebuilds; older builds of NAME are removed.
# Prints one line per image on stdout, `REPO:TAG PATH-TO-TAR`; everything else on stderr.
# Usage: tests/e2e/images.sh [pause|locust|operator|otelcol]...   (default: all)
#   pause     registry.k8s.io/pause: pause.c of the Kubernetes module, static (gcc -static)
#   locust    locustio/locust: Debian (debootstrap, needs root) + pip install of
#             tests/locust/requirements.txt (Locust with the otel extra), user 1000
#   operator  the chart's operator image: scratch + scripts/image/build-static.sh's binary
#   otelcol   the chart's collector image: scratch + tests/cluster/otelcol (build.sh otelcol)
# Needs: tar, sha256sum, flock, python3; gcc and go (pause); root, debootstrap and chroot
# (locust); cargo (operator); go (otelcol). Network on cold builds only: the Debian mirror
# and PyPI (locust), the Go module proxy (pause, otelcol), crates.io (operator).
set -euo pipefail
shopt -s inherit_errexit
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

# Keep in step with tests/locust/install.sh and tests/locust/requirements.txt (checked below).
LOCUST_VERSION=2.43.1
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_PACKAGES=python3,python3-pip,ca-certificates
# The pause image's tag; the tar also carries the tag of the pause.c it is built from
# (build/pause/Makefile's TAG, 3.10.2 in Kubernetes v1.37), which is containerd 2.x's
# default sandbox image.
PAUSE_TAG=3.10
KUBE_VERSION=$(sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$/\1/p' \
  "$root/tests/cluster/kube/go.mod")
# The operator's and the collector's names are the chart's defaults.
values="$root/charts/locust-k8s-operator/values.yaml"
OPERATOR_REPO=$(awk '/^image:/ {s=1} s && $1 == "repository:" {print $2; exit}' "$values")
OPERATOR_VERSION=$(awk '/^\[package\]/ {s=1} s && $1 == "version" {gsub(/"/, "", $3); print $3; exit}' \
  "$root/Cargo.toml")
OTELCOL_REPO=$(awk '$1 == "repository:" && $2 ~ /opentelemetry-collector/ {print $2; exit}' "$values")
OTELCOL_TAG=$(awk '$1 == "repository:" && $2 ~ /opentelemetry-collector/ {s=1; next}
  s && $1 == "tag:" {gsub(/"/, "", $2); print $2; exit}' "$values")

cache=${LOCUST_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/locust-k8s-operator}
images="$cache/images"
DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { echo "images.sh: $*" >&2; }
die() { log "$*"; exit 1; }
for v in KUBE_VERSION OPERATOR_REPO OPERATOR_VERSION OTELCOL_REPO OTELCOL_TAG; do
  [ -n "${!v}" ] || die "could not read $v"
done

# recipe_key FUNCTION... -- INPUT-STRING...: a short hash of the functions' code and of
# the strings.
recipe_key() {
  local fns=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do fns+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  { declare -f "${fns[@]}"; printf '%s\n' "$@"; } | sha256sum | cut -c1-12
}

# cached NAME VERSION KEY BUILD-FUNCTION REF: prints "REF TAR" for the image tar of NAME at
# VERSION-KEY, running `BUILD-FUNCTION DIR` first unless cached; the function leaves
# DIR/image.tar. A build cut short leaves only a .tmp folder, redone next time.
cached() {
  local name=$1 version=$2 key=$3 fn=$4 ref=$5
  local dir="$images/$name/$version-$key" lock
  # One build of NAME at a time (concurrent runs wait, then find it cached).
  mkdir -p "$images/$name"
  exec {lock}>"$images/.$name.lock"
  flock -n "$lock" || { log "waiting for another build of $name"; flock "$lock"; }
  if [ ! -f "$dir/image.tar" ]; then
    log "building $ref ($name $version-$key)"
    local start=$SECONDS
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    "$fn" "$dir.tmp" >&2
    [ -f "$dir.tmp/image.tar" ] || die "$fn made no image.tar"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
    local old
    for old in "$images/$name"/*; do
      [ "$old" = "$dir" ] || { log "removing the older $old"; rm -rf "$old"; }
    done
    log "built $ref in $((SECONDS - start)) s: $dir/image.tar ($(du -h "$dir/image.tar" | cut -f1))"
  fi
  exec {lock}>&-
  echo "$ref $dir/image.tar"
}

# write_image OUT-TAR ROOTFS CONFIG-JSON REF... [-- TAR-OPTION...]: packs ROOTFS as the one
# layer of a docker-archive image tagged REF..., CONFIG-JSON being its `config` object
# (User, Entrypoint, Cmd, Env, WorkingDir, ExposedPorts). TAR-OPTIONs go to the layer's tar
# (--owner=0 --group=0 --mtime=@0 for images of a few files made by any user; mtimes of a
# Python tree must stay: its .pyc files record their sources' mtimes).
write_image() {
  local out=$1 rootfs=$2 config=$3
  shift 3
  local refs=() taropts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do refs+=("$1"); shift; done
  [ $# -gt 0 ] && { shift; taropts=("$@"); }
  local tmp
  tmp=$(mktemp -d "$(dirname "$out")/.write.XXXXXX")
  # Every path, sorted, relative ("etc/passwd", not "./etc/passwd"; no entry for the root).
  # GNU format: POSIX's would add a header to each file for its sub-second mtime (+8%).
  (cd "$rootfs" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort) |
    tar --create --file "$tmp/layer.tar" --directory "$rootfs" --format=gnu \
      --numeric-owner "${taropts[@]}" --no-recursion --verbatim-files-from --files-from=-
  python3 - "$tmp" "$config" "${refs[@]}" <<'PY'
import hashlib, json, os, sys
tmp, config, refs = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
h = hashlib.sha256()
with open(os.path.join(tmp, "layer.tar"), "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
diff_id = h.hexdigest()
epoch = "1970-01-01T00:00:00Z"
image = {
    "architecture": "amd64",
    "os": "linux",
    "created": epoch,
    "config": config,
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff_id]},
    "history": [{"created": epoch, "created_by": "tests/e2e/images.sh"}],
}
blob = json.dumps(image, sort_keys=True, separators=(",", ":")).encode()
config_name = hashlib.sha256(blob).hexdigest() + ".json"
with open(os.path.join(tmp, config_name), "wb") as f:
    f.write(blob)
os.mkdir(os.path.join(tmp, diff_id))
os.rename(os.path.join(tmp, "layer.tar"), os.path.join(tmp, diff_id, "layer.tar"))
manifest = [{"Config": config_name, "RepoTags": refs, "Layers": [diff_id + "/layer.tar"]}]
with open(os.path.join(tmp, "manifest.json"), "w") as f:
    json.dump(manifest, f)
PY
  (cd "$tmp" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort) |
    tar --create --file "$out" --directory "$tmp" --format=posix --numeric-owner \
      --owner=0 --group=0 --mtime=@0 --no-recursion --verbatim-files-from --files-from=-
  rm -rf "$tmp"
}

# --- pause ---------------------------------------------------------------------------------
pause_source() {
  local dir
  dir=$(cd "${TMPDIR:-/tmp}" &&
    GOFLAGS= GO111MODULE=on go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  [ -f "$dir/build/pause/linux/pause.c" ] || die "no build/pause/linux/pause.c in $dir"
  echo "$dir/build/pause"
}
build_pause() {
  local out=$1 src tag
  src=$(pause_source)
  tag=$(sed -n 's/^TAG ?= *//p' "$src/Makefile")
  mkdir -p "$out/rootfs"
  gcc -Os -Wall -Werror -static -DVERSION="v$tag-$KUBE_VERSION" \
    -o "$out/rootfs/pause" "$src/linux/pause.c"
  strip "$out/rootfs/pause"
  local refs=("registry.k8s.io/pause:$PAUSE_TAG")
  [ "$tag" = "$PAUSE_TAG" ] || refs+=("registry.k8s.io/pause:$tag")
  write_image "$out/image.tar" "$out/rootfs" \
    '{"User":"65535:65535","Entrypoint":["/pause"],"Env":["PATH='"$DEFAULT_PATH"'"]}' \
    "${refs[@]}" -- --owner=0 --group=0 --mtime=@0
  rm -rf "$out/rootfs"
}
image_pause() {
  local src
  src=$(pause_source)
  cached pause "$PAUSE_TAG" \
    "$(recipe_key build_pause pause_source write_image -- "$KUBE_VERSION" \
      "$(cat "$src/linux/pause.c" "$src/Makefile")")" \
    build_pause "registry.k8s.io/pause:$PAUSE_TAG"
}

# --- locust --------------------------------------------------------------------------------
# debian_base: prints the folder of a minimal Debian root (debootstrap minbase with
# DEBIAN_PACKAGES), cached apart from Locust's image so a changed Locust does not redo it.
debian_base() {
  local key dir
  key=$(recipe_key debian_base -- "$DEBIAN_SUITE" "$DEBIAN_PACKAGES")
  dir="$images/debian-base/$DEBIAN_SUITE-$key"
  if [ ! -f "$dir/.done" ]; then
    [ "$(id -u)" = 0 ] || die "debootstrap needs root"
    command -v debootstrap >/dev/null || die "debootstrap is needed (apt-get install debootstrap)"
    log "debootstrap $DEBIAN_SUITE ($DEBIAN_PACKAGES) from $DEBIAN_MIRROR (some minutes)"
    local start=$SECONDS
    rm -rf "$dir" "$dir.tmp" && mkdir -p "$dir.tmp"
    if ! nice -n 10 debootstrap --variant=minbase --include="$DEBIAN_PACKAGES" \
      "$DEBIAN_SUITE" "$dir.tmp/rootfs" "$DEBIAN_MIRROR" >"$dir.tmp/debootstrap.log" 2>&1; then
      tail -n 30 "$dir.tmp/debootstrap.log" >&2
      die "debootstrap failed (log: $dir.tmp/debootstrap.log)"
    fi
    rm -rf "$dir.tmp/rootfs/var/cache/apt/archives/"*.deb
    touch "$dir.tmp/.done"
    mv "$dir.tmp" "$dir"
    local old
    for old in "$images/debian-base/$DEBIAN_SUITE-"*; do
      [ "$old" = "$dir" ] || rm -rf "$old"
    done
    log "debootstrap done in $((SECONDS - start)) s"
  fi
  echo "$dir/rootfs"
}
build_locust() {
  local out=$1 base r
  base=$(debian_base)
  r="$out/rootfs"
  cp -a "$base" "$r"
  # For the install only: the host's DNS and CA bundle (a proxy's CA may be in it).
  rm -f "$r/etc/resolv.conf" && cp /etc/resolv.conf "$r/etc/resolv.conf"
  cp "${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}" "$r/tmp/host-ca.pem"
  cp "$root/tests/locust/requirements.txt" "$r/tmp/requirements.txt"
  local run=(chroot "$r" /usr/bin/env -i PATH="$DEFAULT_PATH" HOME=/root LANG=C.UTF-8)
  nice -n 10 "${run[@]}" PIP_CERT=/tmp/host-ca.pem PIP_DEFAULT_TIMEOUT=180 \
    python3 -m pip install --no-cache-dir --break-system-packages --root-user-action=ignore \
    --disable-pip-version-check --progress-bar=off -r /tmp/requirements.txt >&2
  local got
  got=$("${run[@]}" locust --version 2>/dev/null) || die "locust --version failed in the image"
  log "in the image: $got"
  case "$got" in
    *" $LOCUST_VERSION "* | *" $LOCUST_VERSION") ;;
    *) die "expected Locust $LOCUST_VERSION" ;;
  esac
  "${run[@]}" python3 -c 'import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc' ||
    die "the otel extra is missing"
  # User locust, uid/gid 1000, as in the official image.
  grep -q ':1000:' "$r/etc/passwd" "$r/etc/group" && die "uid or gid 1000 is taken in the base"
  echo 'locust:x:1000:1000::/home/locust:/bin/bash' >>"$r/etc/passwd"
  echo 'locust:x:1000:' >>"$r/etc/group"
  [ ! -f "$r/etc/shadow" ] || echo 'locust:*:0:0:99999:7:::' >>"$r/etc/shadow"
  [ ! -f "$r/etc/gshadow" ] || echo 'locust:!::' >>"$r/etc/gshadow"
  mkdir -p "$r/home/locust" && chown 1000:1000 "$r/home/locust" && chmod 0755 "$r/home/locust"
  # Trim: caches, logs, the install's files; translations, manuals and docs but the
  # copyright files (as Debian's slim images); devices (the runtime gives /dev); the host's
  # names (the kubelet mounts resolv.conf and hostname).
  rm -rf "$r/tmp/"* "$r/tmp/".[!.]* "$r/root/.cache" "$r/var/lib/apt/lists/"* \
    "$r/var/cache/apt/"*.bin "$r/var/cache/apt/archives/"*.deb "$r/var/cache/debconf/"*-old \
    "$r/usr/share/locale/"* "$r/usr/share/man/"* "$r/usr/share/info/"* "$r/dev/"*
  find "$r/usr/share/doc" ! -type d ! -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$r/var/log" -type f -delete
  : >"$r/etc/resolv.conf"
  echo localhost >"$r/etc/hostname"
  # USER is numeric (the official image says `locust`): runAsNonRoot can check it.
  write_image "$out/image.tar" "$r" '{
    "User": "1000:1000",
    "Entrypoint": ["locust"],
    "Env": ["PATH='"$DEFAULT_PATH"'", "PYTHONUNBUFFERED=1", "LANG=C.UTF-8"],
    "WorkingDir": "/home/locust",
    "ExposedPorts": {"5557/tcp": {}, "8089/tcp": {}}
  }' "locustio/locust:$LOCUST_VERSION"
  rm -rf "$r"
}
image_locust() {
  local req="$root/tests/locust/requirements.txt"
  grep -qx "locust\[otel\]==$LOCUST_VERSION" "$req" ||
    die "$req does not pin locust[otel]==$LOCUST_VERSION (LOCUST_VERSION here)"
  cached locust "$LOCUST_VERSION" \
    "$(recipe_key build_locust debian_base write_image -- \
      "$DEBIAN_SUITE" "$DEBIAN_PACKAGES" "$(cat "$req")")" \
    build_locust "locustio/locust:$LOCUST_VERSION"
}

# --- operator ------------------------------------------------------------------------------
# scratch + the static binary, as the Dockerfile (there on distroless static:nonroot).
build_operator() {
  local out=$1
  "$root/scripts/image/check-static.sh" "$OPERATOR_BIN" >&2
  mkdir -p "$out/rootfs"
  cp "$OPERATOR_BIN" "$out/rootfs/locust-k8s-operator"
  chmod 0755 "$out/rootfs/locust-k8s-operator"
  write_image "$out/image.tar" "$out/rootfs" '{
    "User": "65532:65532",
    "Entrypoint": ["/locust-k8s-operator"],
    "Cmd": ["run"],
    "Env": ["PATH='"$DEFAULT_PATH"'"]
  }' "$OPERATOR_REPO:$OPERATOR_VERSION" -- --owner=0 --group=0 --mtime=@0
  rm -rf "$out/rootfs"
}
image_operator() {
  # cargo is quick when nothing changed; the key is the binary's hash.
  OPERATOR_BIN=$(nice -n 10 "$root/scripts/image/build-static.sh")
  cached operator "$OPERATOR_VERSION" \
    "$(recipe_key build_operator write_image -- "$(sha256sum <"$OPERATOR_BIN")")" \
    build_operator "$OPERATOR_REPO:$OPERATOR_VERSION"
}

# --- otelcol -------------------------------------------------------------------------------
# scratch + tests/cluster/otelcol (the components the chart's config uses), run by the chart
# as `--config=/conf/config.yaml`.
build_otelcol() {
  local out=$1
  mkdir -p "$out/rootfs"
  cp "$OTELCOL_BIN" "$out/rootfs/otelcol-contrib"
  chmod 0755 "$out/rootfs/otelcol-contrib"
  write_image "$out/image.tar" "$out/rootfs" '{
    "User": "10001",
    "Entrypoint": ["/otelcol-contrib"],
    "Env": ["PATH='"$DEFAULT_PATH"'"],
    "ExposedPorts": {"4317/tcp": {}, "4318/tcp": {}, "13133/tcp": {}}
  }' "$OTELCOL_REPO:$OTELCOL_TAG" -- --owner=0 --group=0 --mtime=@0
  rm -rf "$out/rootfs"
}
image_otelcol() {
  nice -n 10 "$root/tests/cluster/build.sh" otelcol >&2
  OTELCOL_BIN=$(readlink -f "${K8S_BIN_DIR:-$root/target/k8s-bin}/otelcol")
  cached otelcol "$OTELCOL_TAG" \
    "$(recipe_key build_otelcol write_image -- "$(sha256sum <"$OTELCOL_BIN")")" \
    build_otelcol "$OTELCOL_REPO:$OTELCOL_TAG"
}

main() {
  command -v python3 >/dev/null || die "python3 is needed"
  local image
  for image in ${*:-pause locust operator otelcol}; do
    case $image in
      pause | locust | operator | otelcol) ;;
      *) die "unknown image $image (pause, locust, operator or otelcol)" ;;
    esac
  done
  for image in ${*:-pause locust operator otelcol}; do "image_$image"; done
}
# On one line: bash has read all of it before it runs, so editing the script meanwhile is safe.
main "$@"; exit
