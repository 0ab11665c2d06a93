#!/usr/bin/env bash
# test-leader.sh: membership and the controllers' leader with two tided processes on one store,
# each with its own state, API port and one simulated host (tided --host-name ha|hb --sim-hosts 1:
# hosts ha-sim-1 and hb-sim-1), lease TTL 3 s. The store is one SQLite file (tided --store
# sqlite:FILE), or with IT_LEADER_STORE=etcd a one-member etcd the test starts on loopback.
#
# 1. both hosts up; exactly one tided leads (GET /v1/leader answers the same from both, and
#    `tide host list` through each marks its host);
#    a scaling group of min 2 (no policies) gets its 2 members, running;
# 2. kill -9 of the leader's tided: the other leads within one TTL (plus 1 s of slack for a
#    loaded machine), with a higher election revision; the dead one's host shows down; the
#    group keeps its size: still 2 members, no member added or removed after the death;
# 3. the dead tided restarted: it runs for election but does not lead; then kill -9 of the
#    non-leader and a restart within the TTL: its host never shows down, the leader and its
#    election revision stay, and the instances keep their hosts (nothing moves);
# 4. the leader stopped (SIGSTOP) longer than the TTL: the other leads; continued (SIGCONT), the
#    superseded one stops leading (it says so in its log) and the new leader stays; the group
#    still has 2 members.
# Runs on one machine with no guests; the same steps are meant for the dev cluster.
# Needs TIDED and TIDE. Exit: 0 pass, anything else fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_init leader
unset TIDE_SOCKET # each tided is reached by its own URL

TTL=3
SLACK_MS=1000
declare -A PID PORT_OF
ETCD_PID=
if [ "${IT_LEADER_STORE:-sqlite}" = etcd ]; then
	command -v etcd >/dev/null || { echo "SKIP: etcd is not installed"; exit 77; }
	cport=$(it_free_port) pport=$(it_free_port)
	etcd --name it --data-dir "$T/etcd" --listen-client-urls "http://127.0.0.1:$cport" \
		--advertise-client-urls "http://127.0.0.1:$cport" --listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" --initial-cluster "it=http://127.0.0.1:$pport" \
		>"$T/etcd.log" 2>&1 &
	ETCD_PID=$!
	STORE="etcd:http://127.0.0.1:$cport"
	etcd_up() { curl -sf -X POST -d '{}' "http://127.0.0.1:$cport/v3/maintenance/status" >/dev/null; }
	it_wait 30 "etcd answering" etcd_up
else
	STORE="sqlite:$T/store.db"
fi
PORT_OF[ha]=$PORT
PORT_OF[hb]=$(it_free_port)

start() { # NAME: starts tided NAME (state $T/NAME), waits until its API answers
	local n=$1
	mkdir -p "$T/$n"
	# One admin token for the pool: the first tided makes it, the others get a copy.
	[ -s "$T/ha/admin.token" ] && [ "$n" != ha ] && cp "$T/ha/admin.token" "$T/$n/admin.token"
	"$TIDED" --state-dir "$T/$n" --store "$STORE" --host-name "$n" --listen "127.0.0.1:${PORT_OF[$n]}" \
		--sim-hosts 1 --lease-ttl $TTL >>"$T/$n.log" 2>&1 &
	PID[$n]=$!
	for _ in $(seq 1 200); do
		if curl -sf -o /dev/null -H "Authorization: Bearer $(cat "$T/ha/admin.token" 2>/dev/null)" \
			"http://127.0.0.1:${PORT_OF[$n]}/v1/health"; then return 0; fi
		kill -0 "${PID[$n]}" 2>/dev/null || fail "tided $n exited at start: $(tail -5 "$T/$n.log")"
		sleep 0.1
	done
	fail "tided $n did not answer within 20 s"
}
stop_all() {
	local n
	for n in "${!PID[@]}"; do
		kill -CONT "${PID[$n]}" 2>/dev/null || true
		kill -TERM "${PID[$n]}" 2>/dev/null || true
	done
	for n in "${!PID[@]}"; do wait "${PID[$n]}" 2>/dev/null || true; done
	if [ -n "$ETCD_PID" ]; then
		kill -TERM "$ETCD_PID" 2>/dev/null || true
		wait "$ETCD_PID" 2>/dev/null || true
	fi
}
IT_CLEANUP_HOOK=stop_all

t() { # NAME ARGS...: the CLI against tided NAME
	local n=$1
	shift
	"$TIDE" --url "http://127.0.0.1:${PORT_OF[$n]}" --token "$(cat "$T/ha/admin.token")" "$@"
}
leader_of() { # NAME: "HOST REV" as tided NAME answers GET /v1/leader, empty while none leads
	curl -s -H "Authorization: Bearer $(cat "$T/ha/admin.token")" "http://127.0.0.1:${PORT_OF[$1]}/v1/leader" |
		jq -r 'select(.host) | "\(.host) \(.election_rev)"'
}
host_state() { # ASKED HOST: the host's state as tided ASKED lists it
	t "$1" host list -f json | jq -r --arg h "$2" '.[] | select(.name == $h) | .state'
}
members() { # ASKED: the scaling group's members as "name host status" lines, sorted
	t "$1" instance list -f json | jq -r '.[] | select(.asg == "web") | "\(.name) \(.host) \(.status)"' | sort
}
running_members() { test "$(members "$1" | grep -c ' running$')" = 2; }
count_events() { # ASKED TYPE
	t "$1" event list --scaling-group web --limit 1000 -f json | jq --arg ty "$2" '[.[] | select(.type == $ty)] | length'
}
ms() { date +%s%3N; }
# Waits until tided ASKED names OTHER as the leader; prints the ms it took from T0_MS.
wait_leader() { # ASKED OTHER LIMIT_MS
	local l
	while :; do
		l=$(leader_of "$1")
		[ "${l%% *}" = "$2" ] && break
		[ $(($(ms) - T0_MS)) -le "$3" ] || fail "$2 does not lead $3 ms after (leader now: '${l:-none}')"
		sleep 0.05
	done
	echo $(($(ms) - T0_MS))
}

# ---- 1. two tideds, one leader, a group of 2 ----
start ha
start hb
hosts_up() { test "$(t ha host list -f json | jq '[.[] | select(.state == "up")] | length')" = 2; }
it_wait 20 "both hosts up" hosts_up
has_leader() { test -n "$(leader_of ha)"; }
it_wait 10 "a leader" has_leader
L1=$(leader_of ha)
[ "$(leader_of hb)" = "$L1" ] || fail "the two tideds disagree on the leader: '$L1' and '$(leader_of hb)'"
LEADER=${L1%% *} REV1=${L1##* }
OTHER=$([ "$LEADER" = ha ] && echo hb || echo ha)
grep -q "leader: host '$LEADER' leads" "$T/$LEADER.log" || fail "$LEADER's log does not say it leads"
! grep -q "leader: host '$OTHER' leads" "$T/$OTHER.log" || fail "$OTHER says it leads too"
marked() { t "$1" host list -f json | jq -r '[.[] | select(.leader) | .name] | join(",")'; }
for n in ha hb; do
	[ "$(marked $n)" = "$LEADER-sim-1" ] || fail "host list through $n marks '$(marked $n)' as the leader's, not $LEADER-sim-1"
done
log "store $STORE: leader $LEADER (election revision $REV1), its host marked in host list"

truncate -s 16M "$T/disk.raw"
t ha image create img --disk "$T/disk.raw" >/dev/null
t ha flavor create small --vcpus 1 --ram 256 --disk 1 >/dev/null
t ha scaling-group create web --flavor small --image img --min 2 --max 4 >/dev/null
it_wait 20 "2 members running" running_members ha
members ha >"$T/members.before"
log "members: $(tr '\n' ';' <"$T/members.before")"

# ---- 2. kill -9 of the leader ----
ADDED_BEFORE=$(count_events "$OTHER" group.member_added)
kill -KILL "${PID[$LEADER]}"
T0_MS=$(ms)
wait "${PID[$LEADER]}" 2>/dev/null || true
unset "PID[$LEADER]"
TOOK=$(wait_leader "$OTHER" "$OTHER" $((TTL * 1000 + SLACK_MS)))
L2=$(leader_of "$OTHER")
REV2=${L2##* }
[ "$REV2" -gt "$REV1" ] || fail "election revision $REV2 not above $REV1"
log "kill -9 of $LEADER: $OTHER leads after $TOOK ms (TTL ${TTL}s), election revision $REV2"
[ "$(marked "$OTHER")" = "$OTHER-sim-1" ] || fail "host list marks '$(marked "$OTHER")' after the failover"
is_state() { test "$(host_state "$1" "$2")" = "$3"; }
it_wait $((TTL + 2)) "$LEADER-sim-1 down" is_state "$OTHER" "$LEADER-sim-1" down
# Several passes of the new leader: the group keeps its 2 members, none added or removed.
sleep 4
members "$OTHER" >"$T/members.after"
diff "$T/members.before" "$T/members.after" >&2 || fail "the group's members changed across the failover"
[ "$(count_events "$OTHER" group.member_added)" = "$ADDED_BEFORE" ] || fail "a member was added after the failover"
[ "$(count_events "$OTHER" group.member_leaving)" = 0 ] || fail "a member was asked to leave after the failover"
log "the group kept its 2 members"

# ---- 3. restarts ----
DEAD=$LEADER LEADER=$OTHER
start "$DEAD"
it_wait $((TTL + 2)) "$DEAD-sim-1 up again" is_state "$LEADER" "$DEAD-sim-1" up
sleep 1
[ "$(leader_of "$DEAD")" = "$L2" ] || fail "the restarted $DEAD changed the leader: $(leader_of "$DEAD")"
# kill -9 of the non-leader and a restart within the TTL: its host never shows down.
t "$LEADER" instance list -f json | jq -r '.[] | "\(.name) \(.host)"' | sort >"$T/hosts.before"
kill -KILL "${PID[$DEAD]}"
wait "${PID[$DEAD]}" 2>/dev/null || true
T0_MS=$(ms)
start "$DEAD"
log "$DEAD restarted $(($(ms) - T0_MS)) ms after its kill -9"
for _ in $(seq 1 $((TTL * 4))); do
	s=$(host_state "$LEADER" "$DEAD-sim-1")
	[ "$s" = up ] || fail "$DEAD-sim-1 shows '$s' though its tided came back within the TTL"
	sleep 0.5
done
[ "$(leader_of "$LEADER")" = "$L2" ] || fail "the leader changed: $(leader_of "$LEADER"), was $L2"
t "$LEADER" instance list -f json | jq -r '.[] | "\(.name) \(.host)"' | sort >"$T/hosts.after"
diff "$T/hosts.before" "$T/hosts.after" >&2 || fail "instances moved across a restart within the TTL"
log "restart of $DEAD within the TTL: its host stayed up, nothing moved, the leader stayed"

# ---- 4. a superseded leader comes back ----
kill -STOP "${PID[$LEADER]}"
T0_MS=$(ms)
TOOK=$(wait_leader "$DEAD" "$DEAD" $((TTL * 1000 + SLACK_MS)))
L3=$(leader_of "$DEAD")
log "$LEADER stopped (SIGSTOP): $DEAD leads after $TOOK ms, election revision ${L3##* }"
kill -CONT "${PID[$LEADER]}"
it_wait 5 "$LEADER stops leading once continued" grep -q "leader: no longer leading (election revision ${REV2})" "$T/$LEADER.log"
sleep 2
[ "$(leader_of "$LEADER")" = "$L3" ] || fail "the leader is '$(leader_of "$LEADER")', not $L3"
it_wait 10 "2 members running" running_members "$DEAD"
[ "$(members "$DEAD" | wc -l)" = 2 ] || fail "the group has $(members "$DEAD" | wc -l) members"
log "the superseded $LEADER stopped leading; $DEAD still leads; the group has its 2 members"
echo "1 passed, 0 failed"
