#!/usr/bin/env bash
# Builds the .deb with cpack, unpacks it into a temporary root (dpkg -x, as an install would lay
# it out, without touching the machine), checks its contents and control data, and runs the
# packaged binary from there: `streamgate --version` and `streamgate check-rules` on the shipped
# rules. The packaged binary loads its libraries from the machine, like an installed one.
# usage: deb_test.sh CPACK CPACK_CONFIG WORKDIR
set -euo pipefail
cpack="$1" config="$2" work="$3"

rm -rf "$work"
mkdir -p "$work/out" "$work/root"
"$cpack" -G DEB --config "$config" -B "$work/out" > "$work/cpack.log" 2>&1 || {
  cat "$work/cpack.log"; exit 1; }
shopt -s nullglob
debs=("$work"/out/streamgate_*.deb)
[[ ${#debs[@]} -eq 1 ]] || { echo "expected one streamgate_*.deb in $work/out, got: ${debs[*]}"; exit 1; }
deb="${debs[0]}"
echo "package: $(basename "$deb")"

fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }

arch=$(dpkg-deb -f "$deb" Architecture)
depends=$(dpkg-deb -f "$deb" Depends)
echo "Architecture: $arch"
echo "Depends: $depends"
check "architecture is this machine's ($(dpkg --print-architecture))" '[[ "$arch" == "$(dpkg --print-architecture)" ]]'
check "Depends names libc6" '[[ "$depends" == *libc6* ]]'

dpkg-deb -x "$deb" "$work/root"
root="$work/root"
check "binary at /usr/bin/streamgate" '[[ -x "$root/usr/bin/streamgate" ]]'
# Every shared library the binary needs comes from a package that Depends names.
if command -v readelf >/dev/null; then
  for soname in $(readelf -d "$root/usr/bin/streamgate" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case "$soname" in libc.so.*|libm.so.*|ld-linux*) continue ;; esac
    pkg=$(dpkg -S "*/$soname" 2>/dev/null | grep ":$arch:" | head -1 | cut -d: -f1 || true)
    [[ -n "$pkg" ]] || pkg=$(dpkg -S "*/$soname" 2>/dev/null | head -1 | cut -d: -f1 || true)
    check "Depends covers $soname (package ${pkg:-?})" '[[ -n "$pkg" && "$depends" == *"$pkg"* ]]'
  done
fi
check "unit at /lib/systemd/system/streamgate.service" '[[ -f "$root/lib/systemd/system/streamgate.service" ]]'
check "rules directory /etc/streamgate/rules.d" '[[ -d "$root/etc/streamgate/rules.d" ]]'

# Every file under /etc is a conffile, and every conffile is in the package.
dpkg-deb -e "$deb" "$work/control"
conffiles=""
[[ -f "$work/control/conffiles" ]] && conffiles=$(sort "$work/control/conffiles")
etc_files=$(cd "$root" && find etc -type f | sed 's#^#/#' | sort)
check "files under /etc are exactly the conffiles" '[[ "$conffiles" == "$etc_files" ]]'
if [[ -f "$root/etc/streamgate/streamgate.conf" ]]; then
  check "streamgate.conf is a conffile" 'grep -qx /etc/streamgate/streamgate.conf <<<"$conffiles"'
fi
for s in postinst prerm postrm; do
  check "maintainer script $s is executable" '[[ -x "$work/control/$s" ]]'
done

if version=$("$root/usr/bin/streamgate" --version 2>&1); then
  echo "ok   streamgate --version: $version"
else
  echo "FAIL streamgate --version: $version"; fail=1
fi
if out=$("$root/usr/bin/streamgate" check-rules "$root/etc/streamgate/rules.d" 2>&1); then
  echo "ok   streamgate check-rules $root/etc/streamgate/rules.d"
  echo "$out" | sed 's/^/     /'
else
  echo "FAIL streamgate check-rules $root/etc/streamgate/rules.d"
  echo "$out" | sed 's/^/     /'
  fail=1
fi
exit $fail
