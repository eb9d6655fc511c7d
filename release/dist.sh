#!/usr/bin/env bash
# release/dist.sh ARCH CC VERSION: builds libstaple.so and staplectl for ARCH
# (x86_64, aarch64) with the compiler CC in a copy of the tree under
# tests/.work/dist/ARCH, and writes libstaple-VERSION-linux-ARCH.tar.gz and
# its .sha256 in the top directory (`make dist` runs it per architecture).
# The tarball holds the files release/INSTALL lists and their SHA-256 sums;
# owners, order and times are fixed so that the same tree gives the same
# tarball.
set -euo pipefail
arch=$1 cc=$2 version=$3
cd "$(dirname "$0")/.."
top=$PWD
name=libstaple-$version-linux-$arch
work=$top/tests/.work/dist/$arch
case $arch in
x86_64) machine='Advanced Micro Devices X86-64' ;;
aarch64) machine=AArch64 ;;
*) echo "dist: unknown architecture $arch" >&2; exit 1 ;;
esac
command -v "$cc" >/dev/null || { echo "dist: $cc missing (the $arch compiler)" >&2; exit 1; }

rm -rf "$work" && mkdir -p "$work/src" "$work/$name/man" "$work/$name/systemd"
tar -c --exclude=./.git --exclude=./tests/.work --exclude='*.o' --exclude='./libstaple-*' \
    --exclude=./libstaple.so --exclude=./staplectl . | tar -x -C "$work/src"
make -C "$work/src" -s CC="$cc" libstaple.so staplectl
for f in libstaple.so staplectl; do
    readelf -h "$work/src/$f" | grep -q "Machine: *$machine\$" ||
        { echo "dist: $f is not built for $arch" >&2; exit 1; }
done

d=$work/$name
install -m 0644 "$work/src/libstaple.so" "$d/"
install -m 0755 "$work/src/staplectl" "$d/"
install -m 0644 man/staplectl.1 man/libstaple.7 "$d/man/"
install -m 0644 config/libstaple.conf README.md release/INSTALL "$d/"
# the units name the staplectl of the tarball's install, /usr/local/bin
for u in libstaple-refresh.service libstaple-refresh.timer libstaple-refresh.path; do
    sed 's|/usr/bin/staplectl|/usr/local/bin/staplectl|g' "examples/refresh/$u" >"$d/systemd/$u"
    chmod 0644 "$d/systemd/$u"
done
sums=$(cd "$d" && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs sha256sum)
printf '%s\n' "$sums" >"$d/SHA256SUMS"

epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    --mode=go-w -cf - "$name" | gzip -n -9 >"$top/$name.tar.gz.new"
mv -f "$top/$name.tar.gz.new" "$top/$name.tar.gz"
sha256sum "$name.tar.gz" >"$top/$name.tar.gz.sha256"
echo "$name.tar.gz"
