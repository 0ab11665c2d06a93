#!/usr/bin/env bash
# it-migrate-faults: live migration's harder cases on a dev cluster of 3 hosts (scripts/devcluster,
# shared storage) with real tiny guests (128 MiB).
#  - pinned: a dedicated VM moved onto a host where another dedicated VM holds the CPU it had on
#    its source gets the target's pin, as the target's placement chose it: in libvirt's pins
#    (virsh vcpupin), in the running and in the persistent definition (<cputune>), in the
#    affinity of its QEMU vCPU thread on the target, and in the target's claim; the source's
#    claim is gone. (The dev cluster's libvirtds run without cgroups: the pins are libvirt's
#    sched_setaffinity, which is what the thread's Cpus_allowed_list shows.)
#  - the source's tided killed -9 mid-move and started again while libvirtd's job (peer to peer:
#    the source libvirtd drives it) still runs: the agent aborts the job, waits for its end and
#    ends the move as failed within 20 s of answering again: the VM runs on its source only, the
#    record names it, only the source holds its claim, no migration left in the record, and the
#    guest never booted again (its heartbeats go on)
#  - the source's tided killed -9 mid-move and started again after libvirtd completed the move
#    on its own: the agent adopts the target: the record names the target, the VM runs there
#    only, only the target holds its claim, no reboot
# Needs root, TIDED, TIDE and TIDE_GUEST_DIR; exit 77 (skip) without them or without tided's etcd
# store.
set -euo pipefail
. "$(dirname "$0")/cluster.sh"
dc_init migfaults guest

dc_up 3
dc_etcd || {
	echo "SKIP: tided has no etcd store here: the hosts are not one pool"
	exit 77
}
log "cluster up (store $DC_STORE)"

# Through h2's API: h1's tided is the one killed.
show() { dc_tide 2 instance show "$1" -f json; }
alloc() { dc_tide 2 host show "$1" -f json | jq -c '.allocation // {}'; }
alloc_vcpus() { alloc "$1" | jq '.vcpus // 0'; }
cpu_list() { tr , '\n' | awk -F- '/./ { for (c = $1; c <= ($2 == "" ? $1 : $2); c++) print c }' | sort -nu; }
defined_on() { # I NAME
	local out
	out=$(dc_virsh "$1" list --all --name) || fail "virsh list --all on h$1"
	grep -qx "tide-$2" <<<"$out"
}
runs_only_on() { # I NAME
	local i
	for i in $(seq 1 "$DC_N"); do
		if [ "$i" = "$1" ]; then
			dc_domain_running "$i" "$2" || fail "$2 does not run on h$i"
		else
			! defined_on "$i" "$2" || fail "$2 is also defined on h$i"
		fi
	done
}
# The guest's boots (TIDE-GUEST-READY lines in its whole console log, on the shared storage) and
# its last heartbeat.
boots() {
	local f
	f=$(dc_field 1 shared_dir)/instances/$(show "$1" | jq -r .id)/console.log
	[ -s "$f" ] || fail "no console log $f"
	awk '/TIDE-GUEST-READY/ { n++ } END { print n + 0 }' "$f"
}
last_beat() { dc_heartbeats "$1" 2 | tail -n 1; }
beats_after() { # NAME SEQ: a heartbeat later than SEQ
	local s
	s=$(last_beat "$1") && [ -n "$s" ] && [ "$s" -gt "$2" ]
}

# ---- pinned: new pins on the target ----
dc_tide 1 image create tiny --disk "$G/tiny.qcow2" --kernel "$G/vmlinuz" --initrd "$G/initrd.img" \
	--cmdline "$(cat "$G/cmdline")" >/dev/null
dc_tide 1 flavor create tiny --vcpus 1 --ram 128 --disk 1 >/dev/null
host_cpus=$(dc_tide 1 host show h2 -f json | jq -r '.numa[].cpus' | paste -sd, | cpu_list)
if [ "$(wc -l <<<"$host_cpus")" -lt 2 ]; then
	log "one CPU: no room for two dedicated VMs on a host; the pinned case is skipped"
else
	dc_tide 1 flavor create ded --vcpus 1 --ram 128 --disk 1 --cpu-policy dedicated >/dev/null
	# What hI's libvirtd and kernel say of NAME's vCPU 0: libvirt's pin, the pins of the running
	# and of the persistent definition, and the CPUs its QEMU thread may run on ("a b c d").
	pins_seen() { # I NAME
		local pid t aff=
		pid=$("$DC" exec "h$1" cat "/run/libvirt/qemu/tide-$2.pid") || fail "no pid file of tide-$2 on h$1"
		for t in /proc/"$pid"/task/*; do
			grep -q '^CPU 0/' "$t/comm" 2>/dev/null && aff=$(awk '/Cpus_allowed_list/ { print $2 }' "$t/status")
		done
		echo "$(dc_virsh "$1" vcpupin "tide-$2" --vcpu 0 | awk '{ print $2 }')" \
			"$(dc_virsh "$1" dumpxml "tide-$2" | sed -n "s/.*<vcpupin vcpu='0' cpuset='\([^']*\)'.*/\1/p")" \
			"$(dc_virsh "$1" dumpxml --inactive "tide-$2" | sed -n "s/.*<vcpupin vcpu='0' cpuset='\([^']*\)'.*/\1/p")" \
			"${aff:-none}"
	}
	dc_tide 1 instance create d2 --flavor ded --image tiny --hint host=h2 --wait >/dev/null || fail "creating d2"
	dc_tide 1 instance create d1 --flavor ded --image tiny --hint host=h1 --wait >/dev/null || fail "creating d1"
	pin_d2=$(show d2 | jq -r '.placement.pinned[0]')
	pin_src=$(show d1 | jq -r '.placement.pinned[0]')
	[ "$pin_src" != null ] && [ "$pin_d2" != null ] || fail "d1 or d2 has no pinned CPU"
	# Both hosts were empty: placement chose the same CPU on each, so d1 cannot keep its CPU on h2.
	[ "$pin_src" = "$pin_d2" ] ||
		fail "d1 got CPU $pin_src on h1 and d2 CPU $pin_d2 on h2: the move could not tell new pins from old"
	seen=$(pins_seen 1 d1)
	[ "$seen" = "$pin_src $pin_src $pin_src $pin_src" ] || fail "d1 on h1: pins [$seen], not CPU $pin_src"
	log "moving d1 (pinned to CPU $pin_src on h1) to h2, where d2 holds CPU $pin_d2"
	dc_tide 1 instance migrate d1 --to h2 --wait --timeout 120 -f json >"$T/d1.json" || fail "migrate d1 to h2"
	jq -e '.host == "h2" and .last_migration.state == "succeeded"' "$T/d1.json" >/dev/null ||
		fail "d1 after the move: $(jq -c '{host, last_migration}' "$T/d1.json")"
	runs_only_on 2 d1
	pin_tgt=$(jq -r '.placement.pinned[0]' "$T/d1.json")
	[ "$pin_tgt" != null ] && [ "$pin_tgt" != "$pin_d2" ] ||
		fail "h2's placement gave d1 CPU $pin_tgt, which d2 holds"
	seen=$(pins_seen 2 d1)
	[ "$seen" = "$pin_tgt $pin_tgt $pin_tgt $pin_tgt" ] ||
		fail "d1 on h2: pins [$seen] (vcpupin, live XML, persistent XML, thread), not the target's CPU $pin_tgt"
	claim=$(alloc h2 | jq -r '.pinned // ""' | cpu_list | paste -sd' ')
	[ "$claim" = "$(printf '%s\n' "$pin_d2" "$pin_tgt" | sort -n | paste -sd' ')" ] ||
		fail "h2's claim pins CPUs [$claim], not d2's $pin_d2 and d1's $pin_tgt"
	[ "$(alloc h1 | jq -r '.pinned // ""')" = "" ] && [ "$(alloc_vcpus h1)" = 0 ] ||
		fail "h1 keeps a claim after d1 left: $(alloc h1)"
	log "d1 pinned to CPU $pin_tgt on h2 (libvirt, both definitions, its vCPU thread, h2's claim)"
	for n in d1 d2; do dc_tide 1 instance delete "$n" --wait >/dev/null || fail "deleting $n"; done
fi

# ---- the source's tided restarting mid-move ----
dc_tide 1 instance create m1 --flavor tiny --image tiny --hint host=h1 --wait >/dev/null || fail "creating m1"
dc_wait_heartbeats m1 3 120 2 || fail "m1's heartbeats on h1"
runs_only_on 1 m1
[ "$(boots m1)" = 1 ] || fail "m1 booted $(boots m1) times"

state() { show m1 | jq -r '.migration.state // ""'; }
migrating() { [ "$(state)" = migrating ]; }
outgoing() { # a migration job on h1's libvirtd (a virsh error fails the test: it never counts as none)
	local out
	out=$(dc_virsh 1 domjobinfo tide-m1) || fail "virsh domjobinfo tide-m1 on h1"
	grep -q 'Outgoing migration' <<<"$out"
}
ended() { show m1 | jq -e '.migration == null and .last_migration != null' >/dev/null; }
restart_h1() {
	"$DC" start h1 >/dev/null 2>&1 || fail "devcluster start h1"
	DC_STATUS=$(dc_status)
}
# After a move ended: m1 runs on hI only, the record names hI with no migration left, only hI
# holds its claim, and the guest never booted again and beats on.
one_copy_on() { # I BEAT_BEFORE
	local i
	show m1 >"$T/m1.json"
	jq -e --arg h "h$1" '.host == $h and .migration == null and .status == "running"' "$T/m1.json" >/dev/null ||
		fail "m1's record: $(jq -c '{host, status, migration, last_migration}' "$T/m1.json")"
	runs_only_on "$1" m1
	for i in 1 2 3; do
		if [ "$i" = "$1" ]; then
			[ "$(alloc_vcpus "h$i")" = 1 ] || fail "h$i runs m1 but holds no claim: $(alloc "h$i")"
		else
			[ "$(alloc_vcpus "h$i")" = 0 ] || fail "h$i keeps a claim of m1: $(alloc "h$i")"
		fi
	done
	dc_wait 30 "m1's heartbeats going on after $2" beats_after m1 "$2"
	[ "$(boots m1)" = 1 ] || fail "m1 booted again"
}

log "h1's tided killed -9 mid-move (2 MiB/s) and back while libvirtd's job still runs"
beat=$(last_beat m1)
dc_tide 2 instance migrate m1 --to h2 --bandwidth 2 >/dev/null || fail "migrate m1 to h2"
dc_wait 60 "m1 migrating to h2" migrating
dc_wait 30 "the job under way on h1's libvirtd" outgoing
"$DC" kill h1 --tided >/dev/null 2>&1 || fail "devcluster kill h1 --tided"
sleep 2
outgoing || fail "the job did not go on with h1's tided dead (h1's libvirtd drives it)"
[ "$(state)" = migrating ] || fail "m1's migration is '$(state)' with h1's tided dead"
restart_h1
dc_wait 20 "the interrupted move ended after h1's tided came back" ended
show m1 | jq -e '.last_migration.state == "failed" and (.last_migration.error | test("restarted"))' >/dev/null ||
	fail "m1's last migration: $(show m1 | jq -c .last_migration)"
! outgoing || fail "a migration job is left on h1's libvirtd"
one_copy_on 1 "$beat"
log "aborted: $(show m1 | jq -r .last_migration.error)"

log "h1's tided killed -9 mid-move (8 MiB/s) and back after libvirtd completed the move on its own"
beat=$(last_beat m1)
dc_tide 2 instance migrate m1 --to h2 --bandwidth 8 >/dev/null || fail "migrate m1 to h2"
dc_wait 60 "m1 migrating to h2" migrating
# The record says migrating just before the agent calls libvirt: the job itself must be seen.
dc_wait 30 "the job under way on h1's libvirtd" outgoing
"$DC" kill h1 --tided >/dev/null 2>&1 || fail "devcluster kill h1 --tided"
outgoing || fail "the job ended before h1's tided was killed: the case is not what it means to be"
moved() { dc_domain_running 2 m1 && ! defined_on 1 m1; }
dc_wait 90 "h1's libvirtd completing the move with h1's tided dead" moved
[ "$(state)" = migrating ] && [ "$(show m1 | jq -r .host)" = h1 ] ||
	fail "the record changed with h1's tided dead: $(show m1 | jq -c '{host, migration}')"
restart_h1
dc_wait 20 "the completed move adopted after h1's tided came back" ended
show m1 | jq -e '.last_migration.state == "succeeded"' >/dev/null ||
	fail "m1's last migration: $(show m1 | jq -c .last_migration)"
one_copy_on 2 "$beat"
log "adopted: $(show m1 | jq -r .last_migration.note)"
log "PASS"
