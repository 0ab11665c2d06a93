#!/usr/bin/env bash
# test-elastic.sh: the host's elastic loop with a real guest. A VM that saturates its one vCPU
# while the host has idle CPU gets a second one (hot-added, brought online by the guest), with
# an event that says why; with its elastic policy off it keeps what it has.
# Needs TIDED, TIDE, TIDE_GUEST_DIR. Exit: 0 pass, 77 skip (no guest), else fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_init elastic guest

it_start_tided --listen none
"$TIDE" flavor create grow --vcpus 1 --ram 192 --disk 1 --max-vcpus 2 --max-ram 256 >/dev/null
it_image_tiny
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
