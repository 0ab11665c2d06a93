#!/usr/bin/env bash
# test-elastic.sh: the host's elastic loop with a real guest. A VM that saturates its one vCPU
# while the host has idle CPU gets a second one (hot-added, brought online by the guest), with
# an event that says why; with its elastic policy off the same saturated VM keeps what it has.
#
# The VM with elastic on comes first: the time it took to grow (from the start of the first
# second its one vCPU was saturated -- its boot, under emulation, or its load -- by tide's stats,
# to the event that says it grew) sets how long the one with elastic off is watched (twice that,
# at least 10 s: ten passes of the loop), and the one with elastic off must be shown busy (its
# stats at 0.8 cores or more on average) through that window, so "kept one vCPU" cannot be the
# answer of an idle VM or of a window too short for the loop to act.
# Needs TIDED, TIDE, TIDE_GUEST_DIR. Exit: 0 pass, 77 skip (no guest), else fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_init elastic guest

it_start_tided --listen none
"$TIDE" flavor create grow --vcpus 1 --ram 192 --disk 1 --max-vcpus 2 --max-ram 256 >/dev/null
it_image_tiny
printf '#!/bin/sh\ntide-load --cpu 100 --duration 300\n' >"$T/user-data"

heartbeat_cpus() {
	local out
	out=$("$TIDE" instance console "$1") || fail "no console for $1"
	tr -d '\r' <<<"$out" | awk -F'cpus=' '/TIDE-HEARTBEAT/ { split($2, a, " "); c = a[1] } END { print c + 0 }'
}
stats() { "$TIDE" instance stats "$1" -f json; }
load_runs() { wait_console "$1" 'TIDE-LOAD t=' 1 120 || fail "$1's load did not start"; }

log "a saturated VM gets a second vCPU"
"$TIDE" instance create web --flavor grow --image tiny --user-data "$T/user-data" --wait >/dev/null
load_runs web
has_two() { [ "$(heartbeat_cpus web)" = 2 ]; }
it_wait 90 "web's second vCPU" has_two
"$TIDE" event list --instance web -f json >"$T/web-events.json"
jq -e '[.[] | select(.type == "instance.elastic" and (.message | test("vcpus 1→2")))] | length == 1' "$T/web-events.json" >/dev/null ||
	fail "no event says why web grew: $(jq -c '[.[].message]' "$T/web-events.json")"
grew_at=$(jq -r "$IT_JQ_EPOCH"' .[] | select(.type == "instance.elastic" and (.message | test("vcpus 1→2"))) | .time | epoch' \
	"$T/web-events.json")
sat_at=$(stats web | jq '[.history[] | select(.vcpus == 1 and .cpu_cores >= 0.8) | .t_ms] | if length == 0 then null else min / 1000 - 1 end')
[ "$sat_at" != null ] || fail "no sample shows web's one vCPU saturated"
grow_s=$(awk -v a="$sat_at" -v b="$grew_at" 'BEGIN { printf "%.1f", b - a }')
log "web grew ${grow_s} s after its one vCPU was first saturated"
stats web | jq -e '.current.vcpus == 2' >/dev/null || fail "stats do not show 2 vCPUs"
"$TIDE" metrics | grep -q '^tide_elastic_actions_total{.*name="web".*kind="vcpus".*} 1' ||
	"$TIDE" metrics | grep -q '^tide_elastic_actions_total{.*kind="vcpus".*name="web".*} 1' ||
	fail "no tide_elastic_actions_total for web's vCPU change: $("$TIDE" metrics | grep tide_elastic_actions_total)"
"$TIDE" instance delete web --wait >/dev/null

log "the same saturated VM with elastic off keeps its one vCPU"
"$TIDE" instance create fixed --flavor grow --image tiny --user-data "$T/user-data" --elastic off --wait >/dev/null
load_runs fixed
window=$(awk -v g="$grow_s" 'BEGIN { w = 2 * g; if (w < 10) w = 10; printf "%d", w + 0.999 }')
log "watching fixed for $window s"
end=$(($(date +%s) + window))
: >"$T/fixed-cores"
while [ "$(date +%s)" -lt "$end" ]; do
	[ "$(heartbeat_cpus fixed)" = 1 ] || fail "fixed has $(heartbeat_cpus fixed) CPUs with elastic off"
	cur=$(stats fixed | jq -c .current)
	jq -e '.vcpus == 1' <<<"$cur" >/dev/null || fail "fixed's stats show another vCPU count: $cur"
	jq -r .cpu_cores <<<"$cur" >>"$T/fixed-cores"
	sleep 1
done
read -r n avg < <(awk '{ n++; s += $1 } END { printf "%d %.2f\n", n, n ? s / n : 0 }' "$T/fixed-cores")
log "fixed ran on $avg cores on average ($n samples)"
[ "$n" -ge 5 ] && awk -v a="$avg" 'BEGIN { exit !(a >= 0.8) }' || fail "fixed was not a busy VM: $(echo $(cat "$T/fixed-cores")) cores"
[ "$("$TIDE" event list --instance fixed -f json | jq '[.[] | select(.type == "instance.elastic")] | length')" = 0 ] ||
	fail "elastic changes to fixed: $("$TIDE" event list --instance fixed -f json | jq -c '[.[].message]')"
"$TIDE" instance delete fixed --wait >/dev/null
log "PASS"
