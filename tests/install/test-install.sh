#!/usr/bin/env bash
# install: what `meson install` puts where (into a scratch DESTDIR, nothing touched outside it):
# tide on PREFIX/bin, tided on PREFIX/sbin, both runnable; tided.service in the unit directory,
# with ExecStart on the installed tided and the default state directory, Restart=on-failure,
# KillMode=process (stopping tided leaves the VMs running) and After=libvirtd.service, and that
# systemd-analyze verify finds nothing to say about it; the documentation.
# Usage: test-install.sh BUILDDIR
set -euo pipefail
build=$1
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
intro=$(meson introspect --buildoptions "$build") || fail "meson introspect $build"
opt() { jq -r --arg n "$1" '.[] | select(.name == $n) | .value' <<<"$intro"; }
prefix=$(opt prefix)
sbindir=$(opt sbindir)
bindir=$(opt bindir)
datadir=$(opt datadir)
unitdir=$(opt systemdsystemunitdir)
[ -n "$unitdir" ] || unitdir=$prefix/lib/systemd/system
case $sbindir in /*) ;; *) sbindir=$prefix/$sbindir ;; esac
case $bindir in /*) ;; *) bindir=$prefix/$bindir ;; esac
case $datadir in /*) ;; *) datadir=$prefix/$datadir ;; esac

d=$(mktemp -d /tmp/tide-install-test.XXXXXX)
trap 'rm -rf "$d"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$d" >"$d.log" 2>&1 || {
	cat "$d.log" >&2
	rm -f "$d.log"
	fail "meson install --destdir"
}
rm -f "$d.log"

[ -x "$d$bindir/tide" ] || fail "no $bindir/tide"
[ -x "$d$sbindir/tided" ] || fail "no $sbindir/tided"
"$d$bindir/tide" --version | grep -q '^tide ' || fail "the installed tide does not run"
"$d$sbindir/tided" --help | grep -q -- '--state-dir' || fail "the installed tided does not run"
for f in README.md operations.md cli.md; do
	[ -s "$d$datadir/doc/tide/$f" ] || fail "no $datadir/doc/tide/$f"
done

unit=$d$unitdir/tided.service
[ -s "$unit" ] || fail "no $unitdir/tided.service"
key() { sed -n "s/^$1=//p" "$unit"; }
[ "$(key ExecStart)" = "$sbindir/tided --state-dir /var/lib/tide \$TIDED_OPTS" ] ||
	fail "ExecStart is '$(key ExecStart)'"
[ "$(key KillMode)" = process ] || fail "KillMode is '$(key KillMode)', not process"
[ "$(key Restart)" = on-failure ] || fail "Restart is '$(key Restart)', not on-failure"
key After | grep -qw libvirtd.service || fail "not After=libvirtd.service"
[ "$(key WantedBy)" = multi-user.target ] || fail "WantedBy is '$(key WantedBy)'"

# systemd-analyze checks the unit's syntax; it checks ExecStart's binary too, which is not at
# its final place here: the copy it reads names the installed one under DESTDIR.
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (package systemd): cannot check the unit"
mkdir "$d/verify"
sed "s|^ExecStart=$sbindir/tided|ExecStart=$d$sbindir/tided|" "$unit" >"$d/verify/tided.service"
out=$(systemd-analyze verify "$d/verify/tided.service" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"
echo "installed: $bindir/tide, $sbindir/tided, $unitdir/tided.service"
