#!/usr/bin/env bash
# Builds the Debian package of ipra from a built binary, with dpkg-deb alone (no debhelper):
#
#   cargo build --release
#   bash packaging/deb/build.sh target/release/ipra target/deb
#   → target/deb/ipra_<version>-1_<arch>.deb
#
# The version is the binary's own (`ipra --version`); the Depends are what the binary links (its
# NEEDED libraries, resolved to the packages that ship them, libc6 at the newest GLIBC_ symbol
# version it uses). Environment:
#   IPRA_DEB_REVISION     Debian revision (default 1)
#   IPRA_DEB_COMPRESSION  dpkg-deb compressor: xz (default), gzip, zstd, none
#   IPRA_DEB_LEVEL        compression level (default: dpkg-deb's)
#   IPRA_DEB_STRIP        0 keeps the binary's symbols (default: stripped, as Debian ships binaries)
#   IPRA_DEB_MAINTAINER   the Maintainer field
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 BINARY OUTDIR" >&2
    exit 2
fi
binary=$1
outdir=$2
here=$(cd "$(dirname "$0")" && pwd)
packaging=$(dirname "$here")
root_dir=$(dirname "$packaging")

[ -x "$binary" ] || { echo "$binary: not an executable" >&2; exit 2; }
for tool in dpkg-deb dpkg readelf gzip; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is needed (Debian packages dpkg, binutils, gzip)" >&2; exit 2; }
done

upstream=$("$binary" --version | awk '{print $2}')
[ -n "$upstream" ] || { echo "$binary --version printed no version" >&2; exit 2; }
version="$upstream-${IPRA_DEB_REVISION:-1}"
arch=$(dpkg --print-architecture)
maintainer=${IPRA_DEB_MAINTAINER:-"IPRA developers <ipra@example.org>"}
date_epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root_dir" log -1 --format=%ct 2>/dev/null || date +%s)}

mkdir -p "$outdir"
stage=$(mktemp -d "${TMPDIR:-/tmp}/ipra-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
pkg="$stage/ipra"

# The files.
install -d -m 0755 "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/ipra" \
    "$pkg/usr/share/doc/ipra/examples" "$pkg/usr/share/lintian/overrides"
if [ "${IPRA_DEB_STRIP:-1}" = 1 ] && command -v strip >/dev/null; then
    strip --strip-unneeded -o "$pkg/usr/bin/ipra" "$binary"
else
    cp "$binary" "$pkg/usr/bin/ipra"
fi
chmod 0755 "$pkg/usr/bin/ipra"
install -m 0644 "$here/ipra.service" "$pkg/lib/systemd/system/ipra.service"
# Group ipra is given by postinst (dpkg-statoverride): the user does not exist when the files unpack.
install -m 0640 "$packaging/ipra.toml" "$pkg/etc/ipra/ipra.toml"
gzip -9n -c "$root_dir/README.md" >"$pkg/usr/share/doc/ipra/README.md.gz"
install -m 0644 "$root_dir/deploy/nginx.conf" "$root_dir/deploy/compose.yaml" "$pkg/usr/share/doc/ipra/examples/"
install -m 0644 "$here/copyright" "$pkg/usr/share/doc/ipra/copyright"
install -D -m 0644 "$here/lintian-overrides" "$pkg/usr/share/lintian/overrides/ipra"
{
    echo "ipra ($version) unstable; urgency=medium"
    echo
    echo "  * Built from ipra $upstream."
    echo
    echo " -- $maintainer  $(date -R -u -d "@$date_epoch")"
} | gzip -9n >"$pkg/usr/share/doc/ipra/changelog.Debian.gz"
chmod 0644 "$pkg/usr/share/doc/ipra/changelog.Debian.gz" "$pkg/usr/share/doc/ipra/README.md.gz"

# What the binary links: each NEEDED library → the package that ships it.
depends=(adduser)
glibc=$(readelf -V --wide "$pkg/usr/bin/ipra" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
for lib in $(readelf -d "$pkg/usr/bin/ipra" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    # `libc.so.6 => /lib/…/libc.so.6 (…)`, or for the loader `/lib64/ld-linux-x86-64.so.2 (…)`.
    path=$(ldd "$binary" | awk -v l="$lib" '$1 == l && $3 ~ /^\// {print $3; exit} $1 ~ "/" l "$" {print $1; exit}')
    owner=""
    [ -n "$path" ] || { echo "$0: $lib is not found by ldd" >&2; exit 1; }
    for candidate in "$path" "$(readlink -f "$path")" "/usr$path"; do
        owner=$(dpkg -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$owner" ] && break
    done
    if [ -z "$owner" ]; then
        echo "$0: no package found for $lib ($path)" >&2
        exit 1
    fi
    if [ "$owner" = libc6 ] && [ -n "$glibc" ]; then
        owner="libc6 (>= $glibc)"
    fi
    printf '%s\n' "${depends[@]}" | grep -qxF "$owner" || depends+=("$owner")
done
depends_field=$(IFS=,; echo "${depends[*]}" | sed 's/,/, /g')

installed_size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<EOF
Package: ipra
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: $depends_field
Recommends: openssl, libengine-gost-openssl
Suggests: postgresql, nginx
Section: web
Priority: optional
Description: regional register and execution server of IPRA programmes
 The regional register of IPRA (individual rehabilitation and habilitation
 programmes of disabled persons): it receives the extracts of the federal
 register, routes the measures to the organisations that carry them out, keeps
 their execution and exchanges signed reports with the federal systems. One
 binary with sandboxed WebAssembly plugins for every department and exchange.
 .
 The service runs as the system user ipra with its data in /var/lib/ipra and
 its configuration in /etc/ipra/ipra.toml; it is not started on install.
 GOST R 34.10-2012 signing uses openssl with libengine-gost-openssl.
EOF
echo /etc/ipra/ipra.toml >"$pkg/DEBIAN/conffiles"
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$pkg/DEBIAN/"
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/conffiles" "$pkg/DEBIAN/md5sums"

deb="$outdir/ipra_${version}_${arch}.deb"
args=(--root-owner-group -Z"${IPRA_DEB_COMPRESSION:-xz}")
[ -z "${IPRA_DEB_LEVEL:-}" ] || args+=(-z"$IPRA_DEB_LEVEL")
SOURCE_DATE_EPOCH=$date_epoch dpkg-deb "${args[@]}" --build "$pkg" "$deb" >/dev/null
echo "$deb"
