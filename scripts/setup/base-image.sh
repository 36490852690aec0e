# Sourced by setup.sh: the base image local image builds use, made from local material since no image registry is
# reachable. A `debootstrap --variant=minbase` rootfs (cached as a tarball) plus this machine's Node 20 and npm, with
# the uid 1000 `node` user the official node images have, imported with `podman import` as $BASE_IMAGE.
# shellcheck shell=bash

# Global flags this machine's podman needs (no systemd cgroups, runc rather than crun); scripts/images/podman.ts
# passes the same.
PODMAN=(podman --runtime runc --cgroup-manager cgroupfs)

# The Debian point release the mirror serves; debootstrap takes whatever is current, so the pin is checked here.
mirror_point_release() {
  curl -fsS --max-time 30 "$DEBIAN_MIRROR/dists/$DEBIAN_SUITE/Release" | sed -n 's/^Version: //p'
}

# rootfs_tarball <file>: debootstraps the pinned suite, adds the node user and packs the tree with numeric owners.
rootfs_tarball() {
  local out=$1 dir served
  served="$(mirror_point_release)"
  if [[ "$served" != "$DEBIAN_POINT_RELEASE" ]]; then
    echo "$DEBIAN_MIRROR serves Debian ${served:-nothing} for $DEBIAN_SUITE, versions.env pins $DEBIAN_POINT_RELEASE: bump DEBIAN_POINT_RELEASE, or set DEBIAN_MIRROR to a snapshot.debian.org/archive/debian/<date> URL of that release" >&2
    return 1
  fi
  dir="$(mktemp -d)"
  debootstrap --variant=minbase "$DEBIAN_SUITE" "$dir" "$DEBIAN_MIRROR" >"$CACHE/debootstrap.log" 2>&1 &&
    chroot "$dir" groupadd --gid 1000 node &&
    chroot "$dir" useradd --uid 1000 --gid node --create-home --shell /bin/bash node &&
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb "$dir"/var/log/* &&
    tar --numeric-owner -C "$dir" -cf "$out.partial" . &&
    mv "$out.partial" "$out" || { tail -n 20 "$CACHE/debootstrap.log" >&2; rm -rf "$dir" "$out.partial"; return 1; }
  rm -rf "$dir"
}

install_base_image() {
  local node_version prefix rootfs stamp tar tool
  node_version="$(node --version)"
  [[ $node_version == v20.* ]] || { echo "the base image takes this machine's Node 20, but node is $node_version" >&2; return 1; }
  stamp="$DEBIAN_SUITE $DEBIAN_POINT_RELEASE node $node_version"
  if stamp_matches base-image "$stamp" && "${PODMAN[@]}" image exists "$BASE_IMAGE"; then
    echo "$BASE_IMAGE ($stamp) present"
    return
  fi
  for tool in podman debootstrap; do
    command -v "$tool" >/dev/null || { echo "'$tool' is missing: the apt step installs it" >&2; return 1; }
  done
  rootfs="$CACHE/images/debian-$DEBIAN_SUITE-$DEBIAN_POINT_RELEASE-minbase.tar"
  mkdir -p "$CACHE/images"
  [[ -f "$rootfs" ]] || rootfs_tarball "$rootfs"
  # npm sits beside node (NodeSource and the official tarballs: <prefix>/lib/node_modules/npm, <prefix>/bin/npm a
  # relative symlink into it); the image gets the same layout under /usr. S: symlink targets stay as they are.
  prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  [[ -f "$prefix/lib/node_modules/npm/bin/npm-cli.js" ]] || { echo "npm is not in $prefix/lib/node_modules/npm" >&2; return 1; }
  tar="$(mktemp --suffix=.tar)"
  cp "$rootfs" "$tar" &&
    tar --numeric-owner --owner=0 --group=0 -C "$prefix" --transform 's|^|usr/|S' -rf "$tar" \
      bin/node bin/npm bin/npx lib/node_modules/npm &&
    "${PODMAN[@]}" import \
      --change 'ENV NODE_VERSION='"${node_version#v}" \
      --change 'WORKDIR /' \
      --change 'CMD ["node"]' \
      --message "debian $DEBIAN_SUITE $DEBIAN_POINT_RELEASE minbase + node $node_version" \
      "$tar" "$BASE_IMAGE" >"$CACHE/base-image.log" 2>&1 ||
    { tail -n 20 "$CACHE/base-image.log" >&2; rm -f "$tar"; return 1; }
  rm -f "$tar"
  write_stamp base-image "$stamp"
  echo "$BASE_IMAGE ($stamp) built"
}
