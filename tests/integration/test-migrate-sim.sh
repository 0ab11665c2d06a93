#!/usr/bin/env bash
# test-migrate-sim.sh: live migration and host drain through a real tided and the real CLI on
# simulated hosts (hv_sim: no VMs; a simulated move takes ram / rate on real time).
#
#   migrate   `tide instance migrate web --wait` moves it (placement picks the target), the
#             result is in `instance show` and in events, the claims follow;
#   refusals  target = source, an unknown host, a host that is too small, a stopped instance,
#             cancel with nothing under way, a second migration while one runs: each a clear
#             error and nothing claimed;
#   cancel    a migration slowed down by --bandwidth is cancelled mid-way: it stays where it was;
#   drain     a host with 3 running VMs (one of high priority) and a stopped one: the running
#             ones leave, high priority first, the stopped one is named with its reason
#             (exit 1 of --wait), undrain takes the host back.
# Needs TIDED and TIDE. Exit: 0 pass, anything else fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_init migsim

show() { "$TIDE" instance show "$1" -f json; }
field() { show "$1" | jq -r "$2"; }
alloc_vcpus() { "$TIDE" host show "$1" -f json | jq '.allocation.vcpus // 0'; }
hosts_up() { test "$("$TIDE" host list -f json | jq '[.[] | select(.state == "up")] | length')" = 3; }
refused() { # WORDS COMMAND...: the command fails and says WORDS
	local words=$1
	shift
	if "$@" >"$T/out" 2>"$T/err"; then
		fail "'$*' succeeded; it must fail with '$words'"
	fi
	grep -qF -- "$words" "$T/err" || fail "'$*': '$(cat "$T/err")' does not say '$words'"
}

it_start_tided --sim-hosts 3 --sim-shape cpus=8,numa=1,mem_mib=16384,disk_gib=100
it_wait 20 "3 simulated hosts up" hosts_up
truncate -s 16M "$T/disk.raw"
"$TIDE" image create img --disk "$T/disk.raw" >/dev/null
"$TIDE" flavor create small --vcpus 1 --ram 1024 --disk 1 >/dev/null
"$TIDE" flavor create huge --vcpus 2 --ram 20000 --disk 1 >/dev/null
"$TIDE" instance create web --flavor small --image img --hint host=sim-1 --wait >/dev/null

log "migrate, placement choosing the target"
"$TIDE" instance migrate web --wait --timeout 60 -f json >"$T/web.json"
[ "$(jq -r .host "$T/web.json")" != sim-1 ] || fail "web is still on sim-1"
target=$(jq -r .host "$T/web.json")
jq -e '.last_migration | .state == "succeeded" and .source == "sim-1" and (.downtime_ms >= 0)
	and (.overhead_ms >= 0) and (.total_ms >= .overhead_ms)' "$T/web.json" >/dev/null ||
	fail "last_migration: $(jq -c .last_migration "$T/web.json")"
[ "$(alloc_vcpus sim-1)" = 0 ] || fail "sim-1 keeps a claim: $(alloc_vcpus sim-1) vCPUs"
[ "$(alloc_vcpus "$target")" = 1 ] || fail "$target has no claim"
"$TIDE" event list --instance web -f json >"$T/events.json"
for type in instance.migrate instance.migrating instance.migrated; do
	jq -e --arg t "$type" 'map(select(.type == $t)) | length == 1' "$T/events.json" >/dev/null ||
		fail "not one $type event: $(jq -c 'map(.type)' "$T/events.json")"
done
"$TIDE" instance show web | grep -q "^last_migration .*succeeded" || fail "instance show has no last_migration"

log "refusals"
refused "already runs on '$target'" "$TIDE" instance migrate web --to "$target"
refused "host 'nowhere' is unknown" "$TIDE" instance migrate web --to nowhere
"$TIDE" instance create big --flavor huge --image img --hint host=sim-1 --wait >/dev/null
# sim-1 holds big; sim-2 and sim-3 have 16384 * 1.5 MiB, web's target less its 1024.
"$TIDE" instance create filler --flavor huge --image img --hint "host=$target" --wait >/dev/null
refused "cannot take instance 'big': rejected by ram" "$TIDE" instance migrate big --to "$target"
refused "is not migrating" "$TIDE" instance migrate web --cancel
refused "--cancel takes no" "$TIDE" instance migrate web --cancel --to sim-1
"$TIDE" instance stop filler --wait >/dev/null
refused "is not running" "$TIDE" instance migrate filler
[ "$(alloc_vcpus sim-1)" = 2 ] || fail "a refusal claimed something on sim-1"

log "cancel mid-way"
# 1024 MiB at 64 MiB/s: 16 s.
"$TIDE" instance migrate web --to sim-1 --bandwidth 64 >/dev/null
moving() { test "$(field web '.migration.state // ""')" = migrating; }
it_wait 20 "the migration running" moving
refused "already migrating" "$TIDE" instance migrate web
"$TIDE" instance migrate web --cancel >/dev/null
cancelled() { test "$(field web '.last_migration.state')" = cancelled; }
it_wait 20 "the migration cancelled" cancelled
[ "$(field web .host)" = "$target" ] || fail "web left $target although cancelled"
[ "$(alloc_vcpus sim-1)" = 2 ] || fail "sim-1 keeps the cancelled migration's claim"

log "drain sim-1: 3 running VMs and a stopped one"
"$TIDE" instance delete big --wait >/dev/null
for n in a b c; do
	prio=low
	[ "$n" = c ] && prio=high
	"$TIDE" instance create "$n" --flavor small --image img --hint host=sim-1 --priority "$prio" --wait >/dev/null
done
"$TIDE" instance create stopped --flavor small --image img --hint host=sim-1 --wait >/dev/null
"$TIDE" instance stop stopped --wait >/dev/null
if "$TIDE" host drain sim-1 --wait --timeout 60 >"$T/drain.out" 2>"$T/drain.err"; then
	fail "drain --wait succeeded although 'stopped' cannot move"
fi
grep -q "instance 'stopped' stays: not running" "$T/drain.err" || fail "drain: $(cat "$T/drain.err")"
"$TIDE" host show sim-1 -f json >"$T/sim1.json"
jq -e '.drain.state == "incomplete" and (.drain.moved | sort) == ["a","b","c"] and .config.draining' \
	"$T/sim1.json" >/dev/null || fail "drain record: $(jq -c .drain "$T/sim1.json")"
for n in a b c; do
	[ "$(field "$n" .host)" != sim-1 ] || fail "$n is still on sim-1"
done
[ "$(field stopped .host)" = sim-1 ] || fail "the stopped VM moved"
# High priority first: c's move was asked before a's and b's.
"$TIDE" event list -f json | jq -r '.[] | select(.type == "host.drain_move") | .instance' >"$T/order"
[ "$(head -n 1 "$T/order")" = c ] || fail "c (high priority) did not move first: $(tr '\n' ' ' <"$T/order")"
refused "draining" "$TIDE" instance migrate web --to sim-1
"$TIDE" host undrain sim-1 -f json >"$T/undrained.json"
jq -e '(.drain == null) and (.config.draining | not)' "$T/undrained.json" >/dev/null ||
	fail "undrain: $(jq -c '{drain, config}' "$T/undrained.json")"
log "PASS"
