#!/usr/bin/env bash
# test-single-host.sh: tided on one host with real tiny guests, end to end.
#
# Starts tided in a temporary state directory (embedded SQLite store, embedded libvirt), creates a
# flavor and an image, boots two real guests and waits for TIDE-GUEST-READY on their consoles,
# runs user-data, reboots, stops and starts, checks that bad input is refused with nothing left
# behind, checks with virsh that libvirt holds exactly what tide reports, restarts tided and checks
# the guests were adopted (same QEMU processes), pins a dedicated VM to a CPU of its own and moves
# the shared VMs off it (on any host of 2 or more CPUs), deletes everything and checks nothing
# is left. QEMU processes are found by this test's own libvirt state (it_qemu_pid), never by a
# search of every process on the machine.
#
# Needs TIDED and TIDE (binaries) and TIDE_GUEST_DIR (scripts/mkimage output).
# Exit: 0 pass, 77 skip (no guest image), anything else fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_init it guest
URL=http://127.0.0.1:$PORT

start_tided() { it_start_tided --shutdown-timeout 20; }
stop_tided() { it_stop_tided; }
must_console() { # NAME PATTERN COUNT TIMEOUT
	wait_console "$@" || fail "'$2' x$3 not seen on $1's console within $4 s"
}

field() { "$TIDE" instance show "$1" -f json | jq -r ".$2"; }

qemu_pid() { it_qemu_pid "$1"; }
virsh_names() { # the domains the state's libvirt holds (tided stopped); fails the test when virsh cannot say
	local out
	out=$(virsh -q -c "$EMBED" list --all --name) || fail "virsh cannot open $EMBED"
	grep -v '^$' <<<"$out" || [ $? = 1 ]
}
heartbeats() { # NAME -> how many TIDE-HEARTBEAT lines its console has
	local out
	out=$("$TIDE" instance console "$1") || fail "no console for $1"
	tr -d '\r' <<<"$out" | grep -c TIDE-HEARTBEAT || [ $? = 1 ]
}

api() { # METHOD PATH [CURL ARGS...] -> prints the HTTP status, body in $T/body
	local m=$1 p=$2
	shift 2
	curl -s -o "$T/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $(cat "$STATE/admin.token")" \
		-H 'Content-Type: application/json' "$@" "$URL$p"
}

expect() { # STATUS CODE METHOD PATH [CURL ARGS...]
	local want=$1 code=$2 got
	shift 2
	got=$(api "$@")
	[ "$got" = "$want" ] || fail "$1 $2: status $got, expected $want: $(cat "$T/body")"
	[ "$(jq -r .error.code "$T/body")" = "$code" ] || fail "$1 $2: error code $(cat "$T/body"), expected $code"
}

log "starting tided in $STATE"
start_tided
[ "$(stat -c %a "$STATE/admin.token")" = 600 ] || fail "admin.token is not mode 0600"
[ "$(stat -c %a "$TIDE_SOCKET")" = 600 ] || fail "the unix socket is not mode 0600"
[ "$("$TIDE" host list -f json | jq -r '.[0].state')" = up ] || fail "the host is not up"

"$TIDE" flavor create small --vcpus 1 --ram 192 --disk 1 --max-vcpus 2 --max-ram 256 >/dev/null
it_image_tiny
[ "$("$TIDE" image show tiny -f json | jq -r .format)" = qcow2 ] || fail "image format not recorded"

printf '#!/bin/sh\necho user-data-ran\ntide-load --cpu 30 --threads 1 --mem 8 --duration 2\n' >"$T/user-data"
log "creating two instances"
"$TIDE" instance create vm1 --flavor small --image tiny --wait >/dev/null
"$TIDE" instance create vm2 --flavor small --image tiny --user-data "$T/user-data" --priority high --wait >/dev/null
for vm in vm1 vm2; do
	j=$("$TIDE" instance show $vm -f json)
	for k in id name status host flavor image created; do
		[ "$(jq -r ".$k // empty" <<<"$j")" != "" ] || fail "instance show $vm lacks $k"
	done
	[ "$(jq -r .status <<<"$j")" = running ] || fail "$vm is not running: $j"
done
# An instance's files are root's and QEMU's only (nothing for others: fs_private.h).
id2=$(field vm2 id)
for f in "$STATE/instances" "$STATE/instances/$id2" "$STATE/instances/$id2/disk.qcow2" \
	"$STATE/instances/$id2/seed.iso"; do
	m=$(stat -c %a "$f") || fail "cannot stat $f"
	[ $((8#$m & 8#007)) = 0 ] || fail "$f is mode $m: others may use it"
done
# it_domains, which later checks rely on to say "nothing left", sees what runs ...
doms=$(it_domains)
[ "$doms" = "$(printf 'tide-vm1\ntide-vm2')" ] || fail "it_domains sees [$doms] while vm1 and vm2 run"
[ "$(field vm2 priority)" = 750 ] || fail "priority high was not recorded as 750"
must_console vm1 TIDE-GUEST-READY 1 120
must_console vm2 TIDE-GUEST-READY 1 120
must_console vm2 "TIDE-USERDATA exit=0" 1 60
must_console vm2 "TIDE-LOAD done" 1 5
must_console vm2 user-data-ran 1 5
"$TIDE" event list --instance vm1 -f json | jq -e 'map(.type) | index("instance.running")' >/dev/null ||
	fail "no instance.running event for vm1"

log "reboot, stop, start"
"$TIDE" instance reboot vm1 --wait >/dev/null
must_console vm1 TIDE-GUEST-READY 2 120
"$TIDE" instance stop vm1 --wait >/dev/null
[ "$(field vm1 status)" = stopped ] || fail "vm1 did not stop"
[ -z "$(qemu_pid vm1)" ] || fail "vm1's QEMU still runs after stop"
# ... and what is only defined.
doms=$(it_domains)
[ "$doms" = "$(printf 'tide-vm1\ntide-vm2')" ] || fail "it_domains sees [$doms] with vm1 stopped (defined) and vm2 running"
"$TIDE" instance start vm1 --wait >/dev/null
[ "$(field vm1 status)" = running ] || fail "vm1 did not start again"
must_console vm1 TIDE-GUEST-READY 3 120

log "bad input"
before_dirs=$(ls "$STATE/instances" | sort)
before_images=$(ls "$STATE/images" | sort)
got=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/instances")
[ "$got" = 401 ] || fail "no token: status $got"
got=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$URL/v1/instances")
[ "$got" = 401 ] || fail "bad token: status $got"
expect 404 not_found POST /v1/instances -d '{"name":"x1","flavor":"nope","image":"tiny"}'
expect 404 not_found POST /v1/instances -d '{"name":"x1","flavor":"small","image":"nope"}'
expect 409 exists POST /v1/instances -d '{"name":"vm1","flavor":"small","image":"tiny"}'
expect 400 invalid POST /v1/instances -d '{"name":"x1","flavor":"small",'
expect 400 invalid POST /v1/instances -d '{"name":"x1","flavor":"small","image":"tiny","priority":-5}'
head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$T/big"
expect 413 too_large POST /v1/instances --data-binary @"$T/big"
for bad in 'a/b' '..' '../x' 'x"y' "it's" '<b>' 'a&b' '$(reboot)' 'a;b' 'a|b' 'a b' '`id`'; do
	body=$(jq -cn --arg n "$bad" '{name:$n,flavor:"small",image:"tiny"}')
	expect 400 invalid POST /v1/instances -d "$body"
	body=$(jq -cn --arg n "$bad" '{name:$n,vcpus:1,ram_mib:128,disk_gib:1}')
	expect 400 invalid POST /v1/flavors -d "$body"
done
expect 400 invalid POST /v1/flavors -d '{"name":"neg","vcpus":-1,"ram_mib":128,"disk_gib":1}'
expect 400 invalid POST /v1/flavors -d '{"name":"huge","vcpus":1,"ram_mib":999999999999,"disk_gib":1}'
expect 400 invalid POST /v1/flavors -d '{"name":"zero","vcpus":0,"ram_mib":128,"disk_gib":1}'
qemu-img create -q -f qcow2 -F qcow2 -b "$G/tiny.qcow2" "$T/backed.qcow2"
expect 400 invalid POST /v1/images -d "{\"name\":\"backed\",\"disk\":\"$T/backed.qcow2\"}"
qemu-img create -q -f qcow2 -o data_file="$T/data.raw" "$T/datafile.qcow2" 64M
expect 400 invalid POST /v1/images -d "{\"name\":\"datafile\",\"disk\":\"$T/datafile.qcow2\"}"
expect 400 invalid POST /v1/images -d "{\"name\":\"missing\",\"disk\":\"$T/does-not-exist\"}"
expect 400 invalid POST /v1/images -d '{"name":"rel","disk":"relative/path"}'
expect 404 not_found GET /v1/instances/nope
expect 409 in_use DELETE /v1/flavors/small
expect 409 in_use DELETE /v1/images/tiny
if "$TIDE" instance create x2 --flavor nope --image tiny 2>"$T/err"; then fail "the CLI accepted an unknown flavor"; fi
grep -q "nope" "$T/err" || fail "the CLI's error does not name the flavor: $(cat "$T/err")"
[ "$("$TIDE" instance list -f json | jq length)" = 2 ] || fail "bad input created instances"
[ "$("$TIDE" flavor list -f json | jq length)" = 1 ] || fail "bad input created flavors"
[ "$("$TIDE" image list -f json | jq length)" = 1 ] || fail "bad input created images"
[ "$(ls "$STATE/instances" | sort)" = "$before_dirs" ] || fail "bad input left instance files"
[ "$(ls "$STATE/images" | sort)" = "$before_images" ] || fail "bad input left image files"

log "restart: tided stops, the guests keep running, libvirt agrees with tide, tided adopts them"
tide_view=$("$TIDE" instance list -f json | jq -r '.[] | "tide-\(.name) \(.id) \(.status)"' | sort)
pid1=$(qemu_pid vm1)
pid2=$(qemu_pid vm2)
[ -n "$pid1" ] && [ -n "$pid2" ] || fail "no QEMU processes for the guests"
stop_tided || fail "tided did not exit cleanly on SIGTERM"
kill -0 "$pid1" && kill -0 "$pid2" || fail "guests died with tided"
virsh_view=$(for d in $(virsh_names); do
	uuid=$(virsh -q -c "$EMBED" domuuid "$d") || fail "virsh domuuid $d"
	state=$(virsh -q -c "$EMBED" domstate "$d") || fail "virsh domstate $d"
	echo "$d $uuid ${state/shut off/stopped}"
done | sort)
[ "$tide_view" = "$virsh_view" ] || fail "libvirt and tide disagree: tide: [$tide_view] virsh: [$virsh_view]"
start_tided
[ "$(field vm1 status)" = running ] && [ "$(field vm2 status)" = running ] || fail "guests not running after restart"
[ "$(qemu_pid vm1)" = "$pid1" ] && [ "$(qemu_pid vm2)" = "$pid2" ] || fail "guests were restarted, not adopted"
seq_before=$(heartbeats vm2)
beats_on() { [ "$(heartbeats vm2)" -gt "$seq_before" ]; }
it_wait 10 "vm2's heartbeats going on after the restart" beats_on

log "a dedicated VM: its vCPU gets a CPU of its own, the shared VMs move off it"
cpus_of() { # QEMU-PID THREAD-NAME-PATTERN -> the CPUs its matching threads may run on, one a line
	for t in /proc/"$1"/task/*; do
		grep -q -- "$2" "$t/comm" 2>/dev/null && awk '/Cpus_allowed_list/ { print $2 }' "$t/status"
	done | tr , '\n' | awk -F- '/./ { for (c = $1; c <= ($2 == "" ? $1 : $2); c++) print c }' | sort -nu
}
# The host's CPUs as tide sees them (its NUMA nodes' lists), one a line.
host_cpus=$("$TIDE" host list -f json | jq -r '.[0].numa[].cpus' | tr , '\n' |
	awk -F- '/./ { for (c = $1; c <= ($2 == "" ? $1 : $2); c++) print c }' | sort -nu)
if [ "$(wc -l <<<"$host_cpus")" -lt 2 ]; then
	log "one CPU: nothing to pin a dedicated VM to beside the shared ones; skipped"
else
	"$TIDE" flavor create ded --vcpus 1 --ram 128 --disk 1 --cpu-policy dedicated >/dev/null
	"$TIDE" instance create d1 --flavor ded --image tiny --wait >/dev/null
	pin=$("$TIDE" instance show d1 -f json | jq -r '.placement.pinned[0]')
	[ "$pin" != null ] || fail "d1 has no pinned CPU"
	others=$(grep -vx -- "$pin" <<<"$host_cpus")
	[ "$(cpus_of "$(qemu_pid d1)" 'CPU 0/')" = "$pin" ] || fail "d1's vCPU is not on CPU $pin: $(cpus_of "$(qemu_pid d1)" 'CPU 0/')"
	off_pin() { [ "$(cpus_of "$pid1" .)" = "$others" ] && [ "$(cpus_of "$pid2" .)" = "$others" ]; }
	it_wait 10 "vm1's and vm2's threads on CPUs [$(echo $others)] only" off_pin
	must_console d1 TIDE-GUEST-READY 1 120
	"$TIDE" instance delete d1 --wait >/dev/null
	all_back() { [ "$(cpus_of "$pid1" 'CPU 0/')" = "$host_cpus" ]; }
	it_wait 10 "vm1's vCPU back on every CPU (CPU $pin given back)" all_back
	"$TIDE" flavor delete ded >/dev/null
fi

log "delete everything"
"$TIDE" instance delete vm1 --wait >/dev/null
"$TIDE" instance delete vm2 --wait >/dev/null
"$TIDE" image delete tiny >/dev/null
"$TIDE" flavor delete small >/dev/null
[ "$("$TIDE" instance list -f json | jq length)" = 0 ] || fail "instances left"
[ -z "$(qemu_pid vm1)$(qemu_pid vm2)" ] || fail "QEMU processes left"
# .storage-id names the storage the instances' files are on (live migration), not an instance.
left=$(ls -A "$STATE/instances" | grep -vx .storage-id || [ $? = 1 ])
[ -z "$left" ] || fail "instance files left: $left"
[ -z "$(ls -A "$STATE/images")" ] || fail "image files left"
stop_tided || fail "tided did not exit cleanly"
it_no_domains "domains left in the state's libvirt"
[ -z "$(virsh_names)" ] || fail "libvirt still has domains: $(virsh_names)"
left=$(sqlite3 "$STATE/store.db" "SELECT count(*) FROM kv WHERE key LIKE '/tide/instances/%' OR key LIKE '/tide/names/%' OR key LIKE '/tide/images/%' OR key LIKE '/tide/flavors/%'")
[ "$left" = 0 ] || fail "$left store keys left"
log "PASS"
