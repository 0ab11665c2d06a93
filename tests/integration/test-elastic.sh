#!/usr/bin/env bash
# test-elastic.sh: the host's elastic loop with a real guest. A VM that saturates its one vCPU
# while the host has idle CPU gets a second one (hot-added, brought online by the guest), with
# an event that says why; with its elastic policy off it keeps what it has.
# Needs TIDED, TIDE, TIDE_GUEST_DIR. Exit: 0 pass, 77 skip (no guest), else fail.
set -euo pipefail

: "${TIDED:?}" "${TIDE:?}"
G=${TIDE_GUEST_DIR:-}
[ -n "$G" ] && [ -s "$G/tiny.qcow2" ] || { echo "SKIP: no tiny guest"; exit 77; }
G=$(cd "$G" && pwd)
T=$(mktemp -d /tmp/tide-elastic.XXXXXX)
STATE=$T/state
EMBED="qemu:///embed?root=$STATE/libvirt"
export TIDE_SOCKET=$STATE/tided.sock LIBVIRT_LOG_OUTPUTS="4:stderr"
unset TIDE_URL TIDE_TOKEN
TIDED_PID=

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
fail() {
	log "FAIL: $*"
	tail -n 20 "$T/tided.log" >&2 || true
	exit 1
}
cleanup() {
	local rc=$?
	[ -z "$TIDED_PID" ] || { kill -TERM "$TIDED_PID" 2>/dev/null || true; wait "$TIDED_PID" 2>/dev/null || true; }
	if [ -d "$STATE/libvirt" ]; then
		for d in $(virsh -q -c "$EMBED" list --all --name 2>/dev/null); do
			virsh -q -c "$EMBED" destroy "$d" >/dev/null 2>&1 || true
			virsh -q -c "$EMBED" undefine "$d" >/dev/null 2>&1 || true
		done
	fi
	if [ $rc -eq 0 ]; then rm -rf "$T"; else log "state kept in $T"; fi
}
trap cleanup EXIT

"$TIDED" --state-dir "$STATE" --listen none >"$T/tided.log" 2>&1 &
TIDED_PID=$!
for _ in $(seq 1 200); do "$TIDE" host list >/dev/null 2>&1 && break; sleep 0.1; done
"$TIDE" flavor create grow --vcpus 1 --ram 192 --disk 1 --max-vcpus 2 --max-ram 256 >/dev/null
"$TIDE" image create tiny --disk "$G/tiny.qcow2" --kernel "$G/vmlinuz" --initrd "$G/initrd.img" \
	--cmdline "$(cat "$G/cmdline")" >/dev/null
printf '#!/bin/sh\ntide-load --cpu 100 --duration 300\n' >"$T/user-data"

heartbeat_cpus() {
	"$TIDE" instance console "$1" | tr -d '\r' | awk -F'cpus=' '/TIDE-HEARTBEAT/ { split($2, a, " "); c = a[1] } END { print c + 0 }'
}

log "a VM with elastic off keeps its one vCPU"
"$TIDE" instance create fixed --flavor grow --image tiny --user-data "$T/user-data" --elastic off --wait >/dev/null
for _ in $(seq 1 120); do "$TIDE" instance console fixed | grep -q 'TIDE-LOAD t=' && break; sleep 0.5; done
sleep 12
[ "$(heartbeat_cpus fixed)" = 1 ] || fail "fixed has $(heartbeat_cpus fixed) CPUs with elastic off"
"$TIDE" instance delete fixed --wait >/dev/null

log "a saturated VM gets a second vCPU"
"$TIDE" instance create web --flavor grow --image tiny --user-data "$T/user-data" --wait >/dev/null
for _ in $(seq 1 90); do
	[ "$(heartbeat_cpus web)" = 2 ] && break
	sleep 1
done
[ "$(heartbeat_cpus web)" = 2 ] || fail "web did not get a second vCPU: $("$TIDE" event list --instance web | tail -5)"
"$TIDE" event list --instance web -f json |
	jq -e '[.[] | select(.type == "instance.elastic" and (.message | test("vcpus 1→2")))] | length == 1' >/dev/null ||
	fail "no event says why web grew: $("$TIDE" event list --instance web -f json | jq -c '[.[].message]')"
"$TIDE" instance stats web -f json | jq -e '.current.vcpus == 2' >/dev/null || fail "stats do not show 2 vCPUs"
"$TIDE" metrics | grep -q '^tide_elastic_actions_total{.*name="web".*kind="vcpus".*} 1' ||
	"$TIDE" metrics | grep -q '^tide_elastic_actions_total{.*kind="vcpus".*name="web".*} 1' ||
	fail "no tide_elastic_actions_total for web's vCPU change: $("$TIDE" metrics | grep tide_elastic_actions_total)"
"$TIDE" instance delete web --wait >/dev/null
log "PASS"
