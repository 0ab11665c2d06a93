#!/bin/bash
# test-guest-boot.sh OUTDIR: boot the tiny guest with plain QEMU (TCG) and
# check its console protocol: boot marker, heartbeats, a NoCloud user-data
# script running tide-load, a write to the root disk, and a clean poweroff on
# the ACPI power button.  Builds the image into OUTDIR first if needed.
# Exit: 0 pass, 77 skip (no qemu-system-x86_64), anything else fail.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
outdir=${1:-${TIDE_GUEST_DIR:-$top/build/guest}}
ready_timeout=60
userdata_timeout=90
poweroff_timeout=30

log() { printf 'test-guest-boot: %s\n' "$*" >&2; }
fail() {
	log "FAIL: $*"
	if [ -n "${work:-}" ] && [ -e "$work/console.log" ]; then
		log "console (last 40 lines):"
		tail -n 40 "$work/console.log" | tr -d '\r' >&2
	fi
	exit 1
}

command -v qemu-system-x86_64 >/dev/null 2>&1 || { log "SKIP: qemu-system-x86_64 not found"; exit 77; }

"$top/scripts/mkimage" "$outdir" || fail "scripts/mkimage $outdir failed"
for f in tiny.qcow2 vmlinuz initrd.img cmdline; do
	[ -s "$outdir/$f" ] || fail "mkimage did not produce $outdir/$f"
done
outdir=$(cd "$outdir" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/tide-guest-test.XXXXXX")
qemu_pid=
drain_pid=
cleanup() {
	local p
	for p in $qemu_pid $drain_pid; do
		if kill -0 "$p" 2>/dev/null; then
			kill "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		fi
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# NoCloud seed: ISO9660 labelled cidata.
cat >"$work/user-data" <<'EOF'
#!/bin/sh
echo "user-data running on $(hostname)"
echo tide-was-here >/root/tide-marker
tide-load --cpu 50 --threads 1 --mem 32 --duration 3
EOF
printf 'instance-id: tide-test-1\nlocal-hostname: tide-guest\n' >"$work/meta-data"
(cd "$work" && genisoimage -quiet -output seed.iso -volid cidata -joliet -rock user-data meta-data) ||
	fail "genisoimage failed"

qemu-img create -q -f qcow2 -F qcow2 -b "$outdir/tiny.qcow2" "$work/overlay.qcow2"

# The monitor is a pair of FIFOs, used at the end for system_powerdown.
mkfifo "$work/mon.in" "$work/mon.out"
: >"$work/console.log"
start=$(date +%s.%N)
qemu-system-x86_64 -accel tcg -m 256 -smp 2 -nographic \
	-kernel "$outdir/vmlinuz" -initrd "$outdir/initrd.img" -append "$(cat "$outdir/cmdline")" \
	-drive file="$work/overlay.qcow2",if=virtio,format=qcow2 \
	-drive file="$work/seed.iso",if=virtio,format=raw,readonly=on \
	-serial file:"$work/console.log" -display none \
	-chardev pipe,id=mon,path="$work/mon" -mon chardev=mon,mode=readline \
	</dev/null >"$work/qemu.out" 2>&1 &
qemu_pid=$!
# Drain the monitor's output so QEMU never blocks on a full pipe.
cat "$work/mon.out" >/dev/null &
drain_pid=$!

console() { tr -d '\r' <"$work/console.log"; }
# wait_for REGEX TIMEOUT: until a console line matches (extended regex).
wait_for() {
	local deadline=$(( $(date +%s) + $2 ))
	while ! console | grep -Eq "$1"; do
		kill -0 "$qemu_pid" 2>/dev/null || fail "qemu exited while waiting for /$1/: $(cat "$work/qemu.out")"
		[ "$(date +%s)" -lt "$deadline" ] || fail "no /$1/ on the console within $2 s"
		sleep 0.2
	done
}

wait_for '^TIDE-GUEST-READY$' "$ready_timeout"
boot_s=$(echo "$(date +%s.%N) $start" | awk '{ printf "%.1f", $1 - $2 }')
log "guest ready after ${boot_s} s (TCG, -smp 2, -m 256)"

wait_for '^TIDE-USERDATA exit=' "$userdata_timeout"
wait_for '^TIDE-HEARTBEAT seq=2 ' 10

out=$(console)
echo "$out" | grep -Eq '^TIDE-HEARTBEAT seq=1 uptime_s=[0-9]+ cpus=2 mem_avail_kib=[0-9]+' ||
	fail "first heartbeat line is malformed"
[ "$(echo "$out" | grep -c '^TIDE-HEARTBEAT seq=')" -ge 2 ] || fail "fewer than 2 heartbeats"
echo "$out" | grep -q '^TIDE-USERDATA start$' || fail "no 'TIDE-USERDATA start'"
echo "$out" | grep -q '^user-data running on tide-guest$' || fail "user-data output or hostname missing"
echo "$out" | grep -Eq '^TIDE-LOAD t=[0-9]+ work=[0-9]+ rate=[0-9]+ threads=1 mem_mib=32$' ||
	fail "no well-formed 'TIDE-LOAD t=' line"
echo "$out" | grep -Eq '^TIDE-LOAD done work=[1-9][0-9]*$' || fail "no 'TIDE-LOAD done'"
echo "$out" | grep -q '^TIDE-USERDATA exit=0$' || fail "user-data did not exit 0"
uptime_ready=$(echo "$out" | awk -F'[ =]' '/^TIDE-HEARTBEAT seq=1 / { print $5 }')
log "guest uptime at first heartbeat: ${uptime_ready} s"
log "load: $(echo "$out" | grep '^TIDE-LOAD done')"

# ACPI power button: the guest syncs and powers off, QEMU exits.
echo system_powerdown >"$work/mon.in"
wait_for '^TIDE-GUEST-POWEROFF$' "$poweroff_timeout"
deadline=$(( $(date +%s) + poweroff_timeout ))
while kill -0 "$qemu_pid" 2>/dev/null; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "qemu still running $poweroff_timeout s after system_powerdown"
	sleep 0.2
done
wait "$qemu_pid" || true
qemu_pid=

# The root disk is the one the guest writes to: the marker is in the overlay.
if command -v debugfs >/dev/null 2>&1 || [ -x /sbin/debugfs ]; then
	qemu-img convert -q -f qcow2 -O raw "$work/overlay.qcow2" "$work/root.raw"
	marker=$(PATH=$PATH:/sbin debugfs -R 'cat /root/tide-marker' "$work/root.raw" 2>/dev/null) || true
	[ "$marker" = tide-was-here ] || fail "/root/tide-marker not found on the guest's root disk"
else
	log "debugfs missing; not checking the root disk contents"
fi

log "PASS"
