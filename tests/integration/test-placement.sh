#!/usr/bin/env bash
# test-placement.sh: placement through a real tided on simulated hosts (hv_sim, no VMs).
#
# 100 concurrent creates never book past the ratios, never pin one CPU twice and keep the hosts'
# allocation records equal to what their instances use; hard anti-affinity holds under
# concurrency; hints, labels, draining, dry-run, explain and the no-valid-host reason work;
# deleting everything gives every resource back.
# Needs TIDED and TIDE. Exit: 0 pass, anything else fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_init place

api() { # METHOD PATH [BODY] -> body on stdout, status in $T/status
	curl -s --unix-socket "$TIDE_SOCKET" -o "$T/out.$$" -w '%{http_code}' -X "$1" \
		-H 'Content-Type: application/json' ${3:+-d "$3"} "http://localhost$2" >"$T/status"
	cat "$T/out.$$"
}

it_start_tided --listen none --sim-hosts 4 --sim-shape cpus=8,numa=2,mem_mib=8192,disk_gib=100
for _ in $(seq 1 100); do
	[ "$("$TIDE" host list -f json 2>/dev/null | jq '[.[] | select(.state == "up")] | length' 2>/dev/null)" = 4 ] && break
	sleep 0.1
done
[ "$("$TIDE" host list -f json | jq length)" = 4 ] || fail "4 simulated hosts did not come up"

truncate -s 16M "$T/disk.raw"
"$TIDE" image create img --disk "$T/disk.raw" >/dev/null
"$TIDE" flavor create small --vcpus 1 --ram 512 --disk 1 >/dev/null
"$TIDE" flavor create big --vcpus 4 --ram 2048 --disk 1 >/dev/null
"$TIDE" flavor create pinned --vcpus 2 --ram 1024 --disk 1 --cpu-policy dedicated >/dev/null

log "100 concurrent creates"
# 4 hosts x 8 CPUs: 32 CPUs; shared vCPUs up to 2.0 per unpinned CPU, RAM up to 1.5 x 8 GiB.
seq 1 100 | xargs -P 16 -I{} sh -c '
	case $(({} % 4)) in 0) f=pinned ;; 1) f=big ;; *) f=small ;; esac
	curl -s --unix-socket "$0" -o /dev/null -X POST -H "Content-Type: application/json" \
		-d "{\"name\":\"c{}\",\"flavor\":\"$f\",\"image\":\"img\"}" http://localhost/v1/instances' "$TIDE_SOCKET"
api GET /v1/instances >"$T/instances.json"
[ "$(jq '.instances | length' "$T/instances.json")" = 100 ] || fail "not 100 instances"
placed=$(jq '[.instances[] | select(.host != null)] | length' "$T/instances.json")
errors=$(jq '[.instances[] | select(.status == "error")] | length' "$T/instances.json")
log "placed $placed, no valid host for $errors"
[ "$placed" -gt 20 ] || fail "only $placed placed"
[ $((placed + errors)) = 100 ] || fail "instances neither placed nor in error"
jq -e '[.instances[] | select(.status == "error") | .error | test("^no valid host: 4 hosts; ")] | all' \
	"$T/instances.json" >/dev/null || fail "bad no-valid-host reasons"

check_hosts() { # every host: usage within ratios, no CPU pinned twice, allocation == sum of its instances
	api GET /v1/instances >"$T/instances.json"
	api GET /v1/hosts >"$T/hosts.json"
	jq -e -r --slurpfile i "$T/instances.json" '
		.hosts[] as $h
		| ($i[0].instances | map(select(.host == $h.name))) as $mine
		| ($mine | map(select(.cpu_policy == "dedicated"))) as $ded
		| ($mine | map(select(.cpu_policy != "dedicated"))) as $sh
		| ($ded | map(.placement.pinned) | add // []) as $pins
		| ($sh | map(.vcpus) | add // 0) as $vcpus
		| ($sh | map(.ram_mib) | add // 0) as $ram
		| ($ded | map(.ram_mib) | add // 0) as $bound
		| if ($pins | length) != ($pins | unique | length) then "\($h.name): a CPU pinned twice: \($pins)"
		  elif $vcpus > (($h.cpus - ($pins | length)) * 2.0) then "\($h.name): \($vcpus) shared vCPUs on \($h.cpus - ($pins | length)) CPUs"
		  elif ($ram + $bound) > ($h.mem_mib * 1.5) then "\($h.name): \($ram + $bound) MiB booked"
		  elif ($h.allocation.vcpus // 0) != $vcpus then "\($h.name): allocation says \($h.allocation.vcpus) vCPUs, instances \($vcpus)"
		  elif ($h.allocation.instances // 0) != ($mine | length) then "\($h.name): allocation says \($h.allocation.instances) instances, \($mine | length) there"
		  else empty end' "$T/hosts.json" >"$T/violations" || true
	[ ! -s "$T/violations" ] || fail "$(cat "$T/violations")"
}
check_hosts

log "anti-affinity under concurrency"
"$TIDE" server-group create apart --policy anti-affinity >/dev/null
jq -r '.instances[].name' "$T/instances.json" | xargs -P 16 -I{} curl -s --unix-socket "$TIDE_SOCKET" \
	-o /dev/null -X DELETE "http://localhost/v1/instances/{}"
for _ in $(seq 1 100); do
	[ "$("$TIDE" instance list -f json | jq length)" = 0 ] && break
	sleep 0.1
done
[ "$("$TIDE" instance list -f json | jq length)" = 0 ] || fail "instances left after delete"
api GET /v1/hosts | jq -e '[.hosts[].allocation | (.vcpus // 0) + (.ram_mib // 0) + (.instances // 0)] | add == 0' \
	>/dev/null || fail "resources not given back: $(api GET /v1/hosts | jq -c '[.hosts[].allocation]')"
seq 1 6 | xargs -P 6 -I{} sh -c '
	curl -s --unix-socket "$0" -o /dev/null -X POST -H "Content-Type: application/json" \
		-d "{\"name\":\"g{}\",\"flavor\":\"small\",\"image\":\"img\",\"group\":\"apart\"}" http://localhost/v1/instances' "$TIDE_SOCKET"
api GET /v1/instances >"$T/instances.json"
hosts=$(jq -r '[.instances[] | select(.host != null) | .host]' "$T/instances.json")
[ "$(jq length <<<"$hosts")" = 4 ] || fail "anti-affinity placed $(jq length <<<"$hosts") of 6 on 4 hosts"
[ "$(jq 'unique | length' <<<"$hosts")" = 4 ] || fail "two group members share a host: $hosts"
jq -e '[.instances[] | select(.status == "error") | .error] | all(. == "no valid host: 4 hosts; 4 rejected by affinity")' \
	"$T/instances.json" >/dev/null || fail "anti-affinity reason: $(jq -c '[.instances[].error]' "$T/instances.json")"
check_hosts

log "hints, labels, draining, dry-run and explain"
"$TIDE" host set sim-3 --label zone=hk-a >/dev/null
"$TIDE" instance create z1 --flavor small --image img --hint zone=hk-a --wait >/dev/null
[ "$(api GET /v1/instances/z1 | jq -r .host)" = sim-3 ] || fail "zone hint not honoured"
"$TIDE" instance create h1 --flavor small --image img --hint host=sim-2 --wait >/dev/null
[ "$(api GET /v1/instances/h1 | jq -r .host)" = sim-2 ] || fail "host hint not honoured"
"$TIDE" host set sim-1 --drain >/dev/null
dry=$(api POST '/v1/instances?dry_run=true' '{"name":"d1","flavor":"small","image":"img","hints":["host=sim-1"]}')
[ "$(cat "$T/status")" = 200 ] || fail "dry run: status $(cat "$T/status")"
[ "$(jq -r .error <<<"$dry")" = "no valid host: 4 hosts; 1 rejected by state, 3 by hint" ] ||
	fail "dry run reason: $(jq -r .error <<<"$dry")"
[ "$(api GET /v1/instances/d1 >/dev/null; cat "$T/status")" = 404 ] || fail "dry run created an instance"
"$TIDE" host set sim-1 --undrain >/dev/null
"$TIDE" placement explain z1 -f json | jq -e '.hosts | length == 4' >/dev/null || fail "explain lacks hosts"
"$TIDE" instance create huge --flavor big --image img --hint zone=nowhere >/dev/null || true
[ "$(api GET /v1/instances/huge | jq -r .error)" = "no valid host: 4 hosts; 4 rejected by hint" ] ||
	fail "hint reason: $(api GET /v1/instances/huge | jq -r .error)"
log "PASS"
