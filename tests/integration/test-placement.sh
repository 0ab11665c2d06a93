#!/usr/bin/env bash
# test-placement.sh: placement through a real tided on simulated hosts (hv_sim, no VMs).
#
# 100 concurrent creates never book past the ratios and reserves (a cluster-wide reserve of one
# CPU and 512 MiB, and one host with its own ratio and reserve), never pin one CPU twice nor a
# reserved one, never overcommit dedicated RAM, and keep the hosts' allocation records equal to
# what their instances use; hard anti-affinity holds under concurrency; hints, labels,
# draining, dry-run, explain and the no-valid-host reason work; deleting everything gives every
# resource back. The checker of the limits is first shown a doctored host list, which it must
# reject (it cannot pass by checking nothing).
# Needs TIDED and TIDE. Exit: 0 pass, anything else fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_init place

api() { # METHOD PATH [BODY] -> body on stdout, status in $T/status
	curl -s --unix-socket "$TIDE_SOCKET" -o "$T/out.$$" -w '%{http_code}' -X "$1" \
		-H 'Content-Type: application/json' ${3:+-d "$3"} "http://localhost$2" >"$T/status"
	cat "$T/out.$$"
}
get() { # PATH FILE: a GET that must answer 200 with JSON
	api GET "$1" >"$2"
	[ "$(cat "$T/status")" = 200 ] || fail "GET $1: status $(cat "$T/status"): $(head -c 300 "$2")"
	jq -e . "$2" >/dev/null || fail "GET $1: not JSON: $(head -c 300 "$2")"
}
hosts_up() { test "$("$TIDE" host list -f json | jq '[.[] | select(.state == "up")] | length')" = 4; }

it_start_tided --listen none --sim-hosts 4 --sim-shape cpus=8,numa=2,mem_mib=8192,disk_gib=100
it_wait 20 "4 simulated hosts up" hosts_up
# Reserves for the whole cluster, and one host with its own ratio and reserve: the checks below
# must follow both.
"$TIDE" placement config set --reserved-cpus 1 --reserved-ram 512 >/dev/null
"$TIDE" host set sim-2 --cpu-ratio 1.5 --reserved-ram 1024 >/dev/null

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
get /v1/instances "$T/instances.json"
[ "$(jq '.instances | length' "$T/instances.json")" = 100 ] || fail "not 100 instances"
placed=$(jq '[.instances[] | select(.host != null)] | length' "$T/instances.json")
errors=$(jq '[.instances[] | select(.status == "error")] | length' "$T/instances.json")
log "placed $placed, no valid host for $errors"
# About five fit a host with these reserves (CPU-bound); each host must have taken some.
[ "$placed" -ge 16 ] || fail "only $placed placed"
[ "$(jq '[.instances[] | select(.host != null) | .host] | unique | length' "$T/instances.json")" = 4 ] ||
	fail "not every host took instances: $(jq -c '[.instances[] | select(.host != null) | .host] | unique' "$T/instances.json")"
[ $((placed + errors)) = 100 ] || fail "instances neither placed nor in error"
jq -e '[.instances[] | select(.status == "error") | .error | test("^no valid host: 4 hosts; ")] | all' \
	"$T/instances.json" >/dev/null || fail "bad no-valid-host reasons"

# The limits of docs/placement.md, host by host, from the hosts' own settings, else the cluster's:
#   shared vCPUs   <= (cpus - reserved_cpus - pinned) * cpu_ratio
#   pinned CPUs    each pinned once, none of the reserved (lowest-numbered) CPUs
#   shared RAM     <= (mem - reserved_ram - hugepages - bound) * ram_ratio
#   dedicated RAM  bound <= mem - reserved_ram - hugepages (never overcommitted)
#   disk           <= disk_gib * disk_ratio
#   the host's allocation record equals what its instances use
# Prints one line per violation; jq's own failure (bad input) fails the test.
violations() { # HOSTS.json INSTANCES.json CONFIG.json
	jq -r --slurpfile i "$2" --slurpfile c "$3" '
		def eff($h; $k): ($h.config[$k] // $c[0][$k]);
		.hosts[] as $h
		| ($i[0].instances | map(select(.host == $h.name))) as $mine
		| ($mine | map(select(.cpu_policy == "dedicated"))) as $ded
		| ($mine | map(select(.cpu_policy != "dedicated"))) as $sh
		| ($ded | map(.placement.pinned) | add // []) as $pins
		| ($sh | map(.vcpus) | add // 0) as $vcpus
		| ($sh | map(.ram_mib) | add // 0) as $ram
		| ($ded | map(.ram_mib) | add // 0) as $bound
		| ($mine | map(.disk_gib) | add // 0) as $disk
		| ($h.numa | map(.hugepages_mib) | add // 0) as $huge
		| eff($h; "reserved_cpus") as $rc
		| eff($h; "reserved_ram_mib") as $rr
		| ($h.cpus - $rc - ($pins | length)) as $free_cpus
		| ($h.mem_mib - $rr - $huge) as $mem
		| if ($pins | length) != ($pins | unique | length) then "\($h.name): a CPU pinned twice: \($pins)"
		  elif ($pins | map(select(. < $rc)) | length) > 0 then "\($h.name): a reserved CPU pinned: \($pins)"
		  elif $vcpus > $free_cpus * eff($h; "cpu_ratio") then
			"\($h.name): \($vcpus) shared vCPUs on \($free_cpus) CPUs at \(eff($h; "cpu_ratio"))"
		  elif $bound > $mem then "\($h.name): \($bound) MiB of dedicated RAM in \($mem)"
		  elif $ram > ($mem - $bound) * eff($h; "ram_ratio") then
			"\($h.name): \($ram) MiB shared RAM in \($mem - $bound) at \(eff($h; "ram_ratio"))"
		  elif $disk > $h.disk_gib * eff($h; "disk_ratio") then "\($h.name): \($disk) GiB of disk"
		  elif ($h.allocation.vcpus // 0) != $vcpus then "\($h.name): allocation says \($h.allocation.vcpus) vCPUs, instances \($vcpus)"
		  elif ($h.allocation.instances // 0) != ($mine | length) then "\($h.name): allocation says \($h.allocation.instances) instances, \($mine | length) there"
		  else empty end' "$1"
}
check_hosts() { # every host within its limits
	get /v1/instances "$T/instances.json"
	get /v1/hosts "$T/hosts.json"
	get /v1/placement/config "$T/config.json"
	[ "$(jq '.hosts | length' "$T/hosts.json")" = 4 ] || fail "not 4 hosts: $(jq -c '[.hosts[].name]' "$T/hosts.json")"
	violations "$T/hosts.json" "$T/instances.json" "$T/config.json" >"$T/violations" || fail "the limits' check failed"
	[ ! -s "$T/violations" ] || fail "$(cat "$T/violations")"
}
check_hosts
# The check, shown broken hosts, must say so: a host one shared vCPU over its limit (its
# allocation in step), a dedicated VM moved onto a reserved CPU, a dedicated VM's RAM counted
# at the shared ratio (sim-1's memory all bound to dedicated VMs, at 1.5 the shared VMs would
# still fit), an allocation out of step.
doctor() { # JQ-FILTER on hosts.json or instances.json -> violations of the doctored copy
	local which=$1
	shift
	cp "$T/hosts.json" "$T/h.json"
	cp "$T/instances.json" "$T/i.json"
	jq "$@" "$T/$which.json" >"$T/doctored.json"
	mv "$T/doctored.json" "$T/$which.json"
	violations "$T/h.json" "$T/i.json" "$T/config.json"
}
[ -n "$(doctor h '.hosts |= map(if .name == "sim-4" then .cpus = 1 else . end)')" ] ||
	fail "the check let a host past its CPU ratio"
ded=$(jq -r '[.instances[] | select(.cpu_policy == "dedicated" and .host != null)][0].name' "$T/instances.json")
[ "$ded" != null ] || fail "no dedicated instance was placed"
[ -n "$(doctor i --arg n "$ded" '.instances |= map(if .name == $n then .placement.pinned[0] = 0 else . end)')" ] ||
	fail "the check let a dedicated VM onto a reserved CPU"
dhost=$(jq -r --arg n "$ded" '.instances[] | select(.name == $n) | .host' "$T/instances.json")
[ -n "$(doctor i --arg h "$dhost" --argjson m "$(jq --arg h "$dhost" '.hosts[] | select(.name == $h) | .mem_mib' "$T/hosts.json")" \
	'.instances |= map(if .host == $h and .cpu_policy == "dedicated" then .ram_mib = $m else . end)')" ] ||
	fail "the check let dedicated RAM be overcommitted"
[ -n "$(doctor h '.hosts |= map(if .name == "sim-1" then .allocation.vcpus += 1 else . end)')" ] ||
	fail "the check let an allocation out of step"

log "anti-affinity under concurrency"
"$TIDE" server-group create apart --policy anti-affinity >/dev/null
jq -r '.instances[].name' "$T/instances.json" | xargs -P 16 -I{} curl -s --unix-socket "$TIDE_SOCKET" \
	-o /dev/null -X DELETE "http://localhost/v1/instances/{}"
no_instances() { test "$("$TIDE" instance list -f json | jq length)" = 0; }
it_wait 10 "every instance deleted" no_instances
api GET /v1/hosts | jq -e '[.hosts[].allocation | (.vcpus // 0) + (.ram_mib // 0) + (.instances // 0)] | add == 0' \
	>/dev/null || fail "resources not given back: $(api GET /v1/hosts | jq -c '[.hosts[].allocation]')"
seq 1 6 | xargs -P 6 -I{} sh -c '
	curl -s --unix-socket "$0" -o /dev/null -X POST -H "Content-Type: application/json" \
		-d "{\"name\":\"g{}\",\"flavor\":\"small\",\"image\":\"img\",\"group\":\"apart\"}" http://localhost/v1/instances' "$TIDE_SOCKET"
get /v1/instances "$T/instances.json"
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
"$TIDE" instance create huge --flavor big --image img --hint zone=nowhere >/dev/null # 202: stored in error
[ "$(api GET /v1/instances/huge | jq -r .error)" = "no valid host: 4 hosts; 4 rejected by hint" ] ||
	fail "hint reason: $(api GET /v1/instances/huge | jq -r .error)"
log "PASS"
