#!/usr/bin/env bash
# it-migrate: live migration and host drain on dev clusters (scripts/devcluster) with real tiny
# guests (256 MiB).
# First 3 hosts on shared storage (tided --shared-dir: one disk, one console log):
#  - move: m1 goes from h1 to h2: it then runs on h2 only, h1 has no definition and no claim
#    left; its heartbeat counter keeps rising across the move with no boot marker after it (no
#    reboot), no heartbeat missing and no gap between two heartbeats, as seen from the host,
#    longer than the reported downtime plus one heartbeat period (and a poll's slack)
#  - cancel: a move to h3 slowed to 1 MiB/s is cancelled: m1 still runs on h2 only, no claim on h3
#  - target lost: h3's libvirtd killed mid-move: the job fails, m1 runs on h2 only, h3 has no claim
#  - drain: h2 with 3 guests: all leave, live (each keeps its heartbeats), h2 ends empty
# Then 2 hosts that keep instance files apart (TIDE_DEVCLUSTER_SHARED=0): the same checked move,
# the disk's top layer copied with the memory.
# Needs root, TIDED, TIDE and TIDE_GUEST_DIR; exit 77 (skip) without them or without tided's etcd
# store.
set -euo pipefail
. "$(dirname "$0")/cluster.sh"
dc_init migrate guest

HEARTBEAT_S=1
SLACK_S=1.0 # the watcher's reads, the guest's own scan between two heartbeats
WATCHERS=()
stop_watchers() { # each watcher is a process group of its own (tail and its reader): all of it goes
	local p
	for p in "${WATCHERS[@]}"; do kill -- "-$p" 2>/dev/null || true; done
	WATCHERS=()
}
trap 'stop_watchers; dc_cleanup' EXIT

dc_up 3
dc_etcd || {
	echo "SKIP: tided has no etcd store here: the hosts are not one pool"
	exit 77
}
log "cluster up (store $DC_STORE)"

show() { dc_tide 1 instance show "$1" -f json; }
alloc_vcpus() { dc_tide 1 host show "$1" -f json | jq '.allocation.vcpus // 0'; }
console_path() { # NAME I: where hI keeps NAME's console log (shared storage, else its state)
	local id d
	id=$(show "$1" | jq -r .id)
	d=$(dc_field "$2" shared_dir)/instances/$id
	[ -d "$d" ] || d=$(dc_field "$2" state_dir)/instances/$id
	echo "$d/console.log"
}
defined_on() { # I NAME: the domain is defined (running or not) on hI's libvirtd
	local out
	out=$(dc_virsh "$1" list --all --name) || fail "virsh list --all on h$1"
	grep -qx "tide-$2" <<<"$out"
}
runs_only_on() { # I NAME
	local i
	for i in $(seq 1 "$DC_N"); do
		if [ "$i" = "$1" ]; then
			dc_domain_running "$i" "$2" || fail "$2 does not run on h$i"
		elif [ "$(dc_field "$i" state)" = up ]; then
			! defined_on "$i" "$2" || fail "$2 is also defined on h$i"
		fi
	done
}
# Appends "HOST_TIME SEQ" for each heartbeat line of FILE as it is written (tail follows the file
# it opened even after it is removed, and waits for one not made yet).
watch_heartbeats() { # FILE OUT
	set -m # a process group of its own, which stop_watchers ends whole
	(tail -n +1 -F "$1" 2>/dev/null | while IFS= read -r line; do
		case $line in
		*TIDE-HEARTBEAT\ seq=*)
			s=${line#*seq=}
			echo "$(date +%s.%N) ${s%% *}"
			;;
		*TIDE-GUEST-READY*) echo "$(date +%s.%N) BOOT" ;;
		esac
	done >>"$2") &
	WATCHERS+=($!)
	set +m
}

# Whether the "HOST_TIME SEQ" lines of FILE (in order of SEQ) have every SEQ once, in order, with
# no gap longer than MAX seconds; what is wrong on stdout.
heartbeats_ok() { # FILE MAX
	awk -v max="$2" '
		NR > 1 && $2 != prev + 1 { printf "heartbeat %d missing (after %d)\n", prev + 1, prev; bad = 1 }
		NR > 1 && $1 - t > max { printf "%.2f s between heartbeats %d and %d (at most %.2f)\n", $1 - t, prev, $2, max; bad = 1 }
		NR > 1 && $1 - t > worst { worst = $1 - t }
		{ prev = $2; t = $1 }
		END { printf "heartbeats %d, longest gap %.2f s\n", NR, worst > "/dev/stderr"; exit bad }' "$1"
}
# The checker must see what it checks: a heartbeat missing, and a gap too long, each refused.
printf '100.0 1\n101.0 2\n102.0 4\n' >"$T/doctored"
! heartbeats_ok "$T/doctored" 2.5 >/dev/null 2>&1 || fail "the heartbeat checker took a missing heartbeat"
printf '100.0 1\n101.0 2\n104.0 3\n' >"$T/doctored"
! heartbeats_ok "$T/doctored" 2.5 >/dev/null 2>&1 || fail "the heartbeat checker took a 3 s gap"
printf '100.0 1\n101.0 2\n102.2 3\n' >"$T/doctored"
heartbeats_ok "$T/doctored" 2.5 >/dev/null 2>&1 || fail "the heartbeat checker refused good heartbeats"

# Moves NAME from hFROM to hTO through h1's API and checks it on the way: where it runs after,
# the claims, and its heartbeats across the move (WHAT names the case in the log).
move_checked() { # NAME FROM TO WHAT
	local n=$1 from=$2 to=$3 what=$4 src dst before t0 t1 downtime_ms
	src=$(console_path "$n" "$from")
	watch_heartbeats "$src" "$T/hb1"
	# The target's log: on shared storage the same file (then no second watcher).
	dst=$(dc_field "$to" state_dir)/instances/$(show "$n" | jq -r .id)/console.log
	[[ $src != "$(dc_field "$from" shared_dir)"/* ]] || dst=$src
	[ "$dst" = "$src" ] || watch_heartbeats "$dst" "$T/hb2"
	: >>"$T/hb2"
	dc_wait 20 "the watcher sees $n's heartbeats" test -s "$T/hb1"
	log "migrating $n from h$from to h$to ($what)"
	t0=$(date +%s.%N)
	dc_tide 1 instance migrate "$n" --to "h$to" --wait --timeout 180 -f json >"$T/$n.json" ||
		fail "migrate $n to h$to"
	t1=$(date +%s.%N)
	jq -e --arg h "h$to" '.host == $h and .last_migration.state == "succeeded"' "$T/$n.json" >/dev/null ||
		fail "$n after the move: $(jq -c '{host, last_migration}' "$T/$n.json")"
	runs_only_on "$to" "$n"
	[ "$(alloc_vcpus "h$from")" = 0 ] || fail "h$from keeps a claim after the move"
	downtime_ms=$(jq '.last_migration.downtime_ms' "$T/$n.json")
	log "moved in $(jq '.last_migration.total_ms' "$T/$n.json") ms (wall $(echo "$t1 - $t0" | bc) s; shared storage: $(jq '.last_migration.shared' "$T/$n.json")), downtime $downtime_ms ms, tide's overhead $(jq '.last_migration.overhead_ms' "$T/$n.json") ms"
	[ "$downtime_ms" -ge 0 ] || fail "no downtime reported"
	before=$(sort -k2,2n "$T/hb1" | awk '$2 != "BOOT" { s = $2 } END { print s + 0 }')
	going_on() { [ "$(cat "$T/hb1" "$T/hb2" | awk '$2 != "BOOT" && $2 > s { s = $2 } END { print s + 0 }')" -ge $((before + 5)) ]; }
	for _ in $(seq 1 60); do going_on && break; sleep 0.5; done
	going_on || {
		log "$n's console on h$to: $(dc_virsh "$to" dumpxml "tide-$n" | grep -A1 '<serial' | tr -d '\n')"
		fail "$n's heartbeats do not go on after the move (watchers: $(tail -n 2 "$T/hb1" "$T/hb2" | tr '\n' ' '))"
	}
	stop_watchers
	# A boot marker after the move began is a reboot (the log may hold the first boot's).
	[ -z "$(cat "$T/hb1" "$T/hb2" | awk -v t0="$t0" '$2 == "BOOT" && $1 > t0')" ] || fail "$n booted again"
	# Every heartbeat once, in order, across both logs, and no gap longer than the downtime plus one.
	sort -k2,2n -k1,1n "$T/hb1" "$T/hb2" | awk '$2 != "BOOT" && !seen[$2]++' >"$T/hb"
	heartbeats_ok "$T/hb" "$(echo "$downtime_ms / 1000 + $HEARTBEAT_S + $SLACK_S" | bc -l)" >"$T/gaps" ||
		fail "heartbeats across the move: $(cat "$T/gaps")"
	rm -f "$T/hb1" "$T/hb2"
}

boot_m1() {
	dc_tide 1 flavor create tiny --vcpus 1 --ram 256 --disk 1 >/dev/null
	dc_tide 1 image create tiny --disk "$G/tiny.qcow2" --kernel "$G/vmlinuz" --initrd "$G/initrd.img" \
		--cmdline "$(cat "$G/cmdline")" >/dev/null
	dc_tide 1 instance create m1 --flavor tiny --image tiny --hint host=h1 --wait >/dev/null || fail "creating m1"
	dc_wait_heartbeats m1 3 120 1 || fail "m1's heartbeats on h1"
	runs_only_on 1 m1
}

# ---- shared storage: a guest on h1, moved to h2 ----
boot_m1
[ -d "$(dc_field 1 shared_dir)/instances/$(show m1 | jq -r .id)" ] || fail "m1's files are not on the shared storage"
move_checked m1 1 2 "shared storage"

# ---- cancelled ----
log "a move to h3 at 1 MiB/s, cancelled"
dc_tide 1 instance migrate m1 --to h3 --bandwidth 1 >/dev/null || fail "migrate m1 to h3"
moving() { [ "$(show m1 | jq -r '.migration.state // ""')" = migrating ]; }
dc_wait 60 "m1 migrating to h3" moving
[ "$(alloc_vcpus h3)" = 1 ] || fail "no claim on h3 while m1 moves there"
dc_tide 1 instance migrate m1 --cancel >/dev/null || fail "cancel"
ended() { show m1 | jq -e --arg s "$1" '(.migration == null) and .last_migration.state == $s' >/dev/null; }
dc_wait 60 "the migration cancelled" ended cancelled
runs_only_on 2 m1
[ "$(alloc_vcpus h3)" = 0 ] || fail "h3 keeps the cancelled move's claim"
dc_wait_heartbeats m1 1 30 2 || fail "m1's heartbeats after the cancel"

# ---- the target's libvirtd killed mid-move ----
log "a move to h3 at 2 MiB/s; h3's libvirtd killed"
dc_tide 1 instance migrate m1 --to h3 --bandwidth 2 >/dev/null || fail "migrate m1 to h3"
dc_wait 60 "m1 migrating to h3" moving
kill -9 "$(dc_field 3 libvirtd_pid)"
dc_wait 120 "the migration failed" ended failed
log "failed: $(show m1 | jq -r .last_migration.error)"
[ "$(show m1 | jq -r .host)" = h2 ] || fail "m1 left h2"
dc_domain_running 2 m1 || fail "m1 no longer runs on h2"
[ "$(alloc_vcpus h3)" = 0 ] || fail "h3 keeps the failed move's claim"
"$DC" kill h3 >/dev/null 2>&1 || fail "devcluster kill h3"
"$DC" start h3 >/dev/null 2>&1 || fail "devcluster start h3"
DC_STATUS=$("$DC" status --json)
h3_up() { dc_tide 1 host list -f json | jq -e 'any(.[]; .name == "h3" and .state == "up")' >/dev/null; }
dc_wait 60 "h3 up again" h3_up
runs_only_on 2 m1

# ---- drain h2 with 3 guests ----
for n in m2 m3; do
	dc_tide 1 instance create "$n" --flavor tiny --image tiny --hint host=h2 --wait >/dev/null || fail "creating $n"
	dc_wait_heartbeats "$n" 2 120 2 || fail "$n's heartbeats on h2"
done
log "draining h2"
dc_tide 1 host drain h2 --wait --timeout 600 -f json >"$T/drain.json" || fail "drain h2: $(jq -c .drain "$T/drain.json" 2>/dev/null)"
jq -e '.drain.state == "done" and (.drain.moved | length) == 3' "$T/drain.json" >/dev/null ||
	fail "drain: $(jq -c .drain "$T/drain.json")"
for n in m1 m2 m3; do
	h=$(dc_instance_host "$n") || fail "$n runs nowhere after the drain"
	[ "$h" != h2 ] || fail "$n is still on h2"
	i=${h#h}
	runs_only_on "$i" "$n"
	dc_wait_heartbeats "$n" 1 30 "$i" || fail "$n's heartbeats on $h"
	before=$(dc_heartbeats "$n" "$i" | tail -n 1)
	rising() { [ "$(dc_heartbeats "$1" "$2" | tail -n 1)" -gt "$3" ]; }
	dc_wait 30 "$n's heartbeats going on on $h" rising "$n" "$i" "$before"
done
[ "$(alloc_vcpus h2)" = 0 ] || fail "h2 keeps claims after the drain"
dc_tide 1 host undrain h2 >/dev/null

# ---- local disks: two hosts that keep instance files apart ----
dc_down_checked
export TIDE_DEVCLUSTER_SHARED=0
dc_up 2
log "cluster up without shared storage"
boot_m1
move_checked m1 1 2 "local disk copied"
# The console log moved too: read through h1 (forwarded to h2), it is the whole log, from the
# first boot's marker on, every heartbeat once and in order; h1 then keeps nothing of m1.
m1_id=$(show m1 | jq -r .id)
history_done() { show m1 | jq -e '.last_migration.console_copied and .last_migration.source_cleaned' >/dev/null; }
dc_wait 60 "h2 copies m1's console history and h1 removes its files" history_done ||
	fail "m1's console history: $(show m1 | jq -c .last_migration)"
dc_tide 1 instance console m1 >"$T/console" || fail "reading m1's console through h1"
[ "$(grep -c TIDE-GUEST-READY "$T/console")" = 1 ] || fail "m1's console does not show its one boot: $(head -c 300 "$T/console")"
grep -o 'TIDE-HEARTBEAT seq=[0-9]*' "$T/console" | cut -d= -f2 >"$T/seqs"
awk 'NR == 1 && $1 > 2 { print "starts at " $1; bad = 1 } NR > 1 && $1 != p + 1 { print p " then " $1; bad = 1 }
	{ p = $1 } END { exit bad }' "$T/seqs" >"$T/seq-gaps" || fail "m1's console across the move: $(head -n 5 "$T/seq-gaps" | tr '\n' ' ')"
[ "$(wc -l <"$T/seqs")" -ge 8 ] || fail "m1's console holds only $(wc -l <"$T/seqs") heartbeats"
log "m1's console through h1 after the move: $(wc -l <"$T/seqs") heartbeats, $(head -n 1 "$T/seqs") to $(tail -n 1 "$T/seqs")"
[ ! -e "$(dc_field 1 state_dir)/instances/$m1_id" ] || fail "h1 keeps m1's files after the move"
log "PASS"
