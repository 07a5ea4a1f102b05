#!/usr/bin/env bash
# Builds a slim Debian root file system with debootstrap and packs it as a tarball for `podman import`.
#   debian-base.sh <suite> <mirror> <out.tar>
# Slimmed like the official debian:*-slim images: no docs, man pages or locales (also for packages installed later,
# via dpkg path-exclude), no apt lists or package cache, no host files (resolv.conf, hostname) and an empty /dev.
set -euo pipefail
suite="${1:?suite}"
mirror="${2:?mirror}"
out="${3:?out.tar}"
work="$(mktemp -d "${TMPDIR:-/tmp}/fse-debootstrap.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"

debootstrap --variant=minbase "$suite" "$root" "$mirror"

cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
# like debian:*-slim: keep copyright files, drop the rest of the docs, man pages and translations
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
# no service starts during image builds (redis-server's postinst would start one)
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
echo 'APT::AutoRemove::SuggestsImportant "false";' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/{man,info,locale,lintian,linda,groff}/* \
  "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
  "$root"/var/cache/debconf/*-old "$root"/dev/* "$root"/tmp/* "$root"/run/* \
  "$root/etc/resolv.conf" "$root/etc/hostname"
find "$root/var/log" -type f -delete
: >"$root/etc/machine-id"

tar --numeric-owner --xattrs -C "$root" -cf "$out.partial" .
mv "$out.partial" "$out"
