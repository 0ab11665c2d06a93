#!/usr/bin/env bash
# it-cluster-leader: the controllers' leader on a dev cluster of 3 hosts (scripts/devcluster) on
# the etcd store, with real tiny guests.
#  - exactly one host leads: `tide host list` through each host marks the same one (LEADER) and
#    GET /v1/leader names it with its election revision;
#  - a scaling group of min 2 gets its 2 members, running on the leader's host (the others are
#    draining), with heartbeats on their consoles;
#  - kill -9 of the leader's tided only (its libvirtd and guests stay): another host leads within
#    the lease TTL (10 s) and a 1 s margin, with a higher election revision; the group's guests
#    keep running (their heartbeats go on rising, no second boot); the group keeps its size (the
#    same 2 members, no member added or removed while the new leader runs it for 15 s);
#  - the dead tided's host started again, then its tided killed -9 and started again at once
#    (`devcluster kill HOST --tided`): its host never shows down, nothing moves, no guest boots
#    again, heartbeats go on;
#  - the new leader's tided stopped (SIGSTOP) past the TTL: another leads with a higher election
#    revision; continued, the superseded one logs that it no longer leads, the new leader stays
#    and the group keeps its members (nothing the superseded leader would do is accepted).
# Without the etcd backend (each host its own SQLite store) there is no pool to lead: exit 77.
set -euo pipefail
. "$(dirname "$0")/cluster.sh"
dc_init cluster-leader guest

TTL_S=10
MARGIN_MS=1000

dc_up 3
if ! dc_etcd; then
	dc_down_checked
	echo "SKIP: the dev cluster runs without the etcd store: each host is a pool of its own"
	exit 77
fi
log "cluster up (store $DC_STORE)"

leader_via() { # I: "HOST REV" as hI's GET /v1/leader says, empty while none leads
	curl -s -H "Authorization: Bearer $(dc_field "$1" token)" "$(dc_field "$1" url)/v1/leader" |
		jq -r 'select(.host) | "\(.host) \(.election_rev)"'
}
marked_via() { # I: the hosts `tide host list` through hI marks as leader, comma-separated
	dc_tide "$1" host list -f json | jq -r '[.[] | select(.leader) | .name] | sort | join(",")'
}
has_leader() { test -n "$(leader_via 1)"; }
dc_wait 30 "a leader" has_leader
L1=$(leader_via 1)
LEADER=${L1%% *} REV1=${L1##* }
for i in 1 2 3; do
	[ "$(leader_via $i)" = "$L1" ] || fail "h$i says the leader is '$(leader_via $i)', h1 '$L1'"
	[ "$(marked_via $i)" = "$LEADER" ] || fail "host list through h$i marks '$(marked_via $i)' as leader, not $LEADER"
done
L=${LEADER#h}
log "leader $LEADER (election revision $REV1), the same through every host"

# The members on the leader's host, whose tided is then killed: the image is created through
# it (so its files are there) and the other hosts take no new instances (draining).
dc_tide $L flavor create tiny --vcpus 1 --ram 128 --disk 1 >/dev/null
dc_tide $L image create tiny --disk "$G/tiny.qcow2" --kernel "$G/vmlinuz" --initrd "$G/initrd.img" \
	--cmdline "$(cat "$G/cmdline")" >/dev/null
for i in 1 2 3; do [ "$i" = "$L" ] || dc_tide $L host set "h$i" --drain >/dev/null; done
dc_tide $L scaling-group create web --flavor tiny --image tiny --min 2 --max 4 >/dev/null
members() { # I: "name host status" of the group's members, sorted
	dc_tide "$1" instance list -f json | jq -r '.[] | select(.asg == "web") | "\(.name) \(.host) \(.status)"' | sort
}
two_running() { test "$(members $L | grep -c " $LEADER running\$")" = 2; }
dc_wait 180 "the group's 2 members running" two_running
names=$(members $L | awk '{ print $1 }')
for n in $names; do
	dc_wait_heartbeats "$n" 2 180 $L || fail "$n's heartbeats"
done
members $L >"$T/members.before"
log "members: $(tr '\n' ';' <"$T/members.before")"

# A guest's heartbeat counters from its console file (the host of a dead tided serves none):
# under the shared directory, or the host's state directory.
beats_of() { # NAME
	local id h f
	id=$(dc_tide $OTHER instance show "$1" -f json | jq -r .id)
	h=$(awk -v n="$1" '$1 == n { print $2 }' "$T/members.before")
	f=$(dc_field 1 shared_dir)/instances/$id/console.log
	[ -s "$f" ] || f=$(dc_field "${h#h}" state_dir)/instances/$id/console.log
	tr -d '\r' <"$f" | sed -n 's/.*TIDE-HEARTBEAT seq=\([0-9]*\).*/\1/p'
}

# ---- kill -9 of the leader's tided ----
OTHER=$([ "$L" = 1 ] && echo 2 || echo 1)
added_before=$(dc_tide $OTHER event list --scaling-group web --limit 1000 -f json |
	jq '[.[] | select(.type == "group.member_added")] | length')
declare -A beats
for n in $names; do beats[$n]=$(beats_of "$n" | tail -n 1); done
pid=$(dc_field "$L" tided_pid)
kill -KILL "$pid"
t0=$(date +%s%3N)
while :; do
	l=$(leader_via $OTHER)
	if [ -n "$l" ] && [ "${l%% *}" != "$LEADER" ]; then break; fi
	[ $(($(date +%s%3N) - t0)) -le $((TTL_S * 1000 + MARGIN_MS)) ] ||
		fail "no other host leads $((TTL_S * 1000 + MARGIN_MS)) ms after the leader's kill -9 (leader: '${l:-none}')"
	sleep 0.1
done
took=$(($(date +%s%3N) - t0))
L2=$(leader_via $OTHER)
[ "${L2##* }" -gt "$REV1" ] || fail "election revision ${L2##* } not above $REV1"
log "kill -9 of $LEADER's tided: ${L2%% *} leads after $took ms (TTL ${TTL_S} s), election revision ${L2##* }"

# The new leader runs the group for a while: same members, still running, nothing added.
sleep 15
members $OTHER >"$T/members.after"
diff "$T/members.before" "$T/members.after" >&2 || fail "the group's members changed after the leader died"
added_after=$(dc_tide $OTHER event list --scaling-group web --limit 1000 -f json |
	jq '[.[] | select(.type == "group.member_added")] | length')
[ "$added_after" = "$added_before" ] || fail "members were added after the leader died ($added_before then $added_after)"
for n in $names; do
	h=$(awk -v n="$n" '$1 == n { print $2 }' "$T/members.before")
	dc_domain_running "${h#h}" "$n" || fail "$n's domain is not running on $h after the leader died"
	last=$(beats_of "$n" | tail -n 1)
	[ "${last:-0}" -gt "${beats[$n]:-0}" ] || fail "$n's heartbeats did not go on (${beats[$n]} then $last)"
	[ "$(beats_of "$n" | grep -c '^1$')" -le 1 ] || fail "$n booted again"
done
log "the group kept its 2 members, running, heartbeats rising"

# ---- the dead leader's host back; then its tided killed -9 and started again within the TTL ----
host_state() { # I HOST: HOST's state as hI's host list says
	dc_tide "$1" host list -f json | jq -r --arg h "$2" '.[] | select(.name == $h) | .state'
}
host_up() { test "$(host_state $OTHER "$1")" = up; }
"$DC" start "$LEADER" >"$T/start.log" 2>&1 || fail "devcluster start $LEADER: $(tail -n 5 "$T/start.log")"
dc_wait 30 "$LEADER up again" host_up "$LEADER"
sleep 2
members $OTHER >"$T/members.before2"
diff "$T/members.before" "$T/members.before2" >&2 || fail "the members changed when $LEADER's tided came back"
for n in $names; do beats[$n]=$(beats_of "$n" | tail -n 1); done
"$DC" kill "$LEADER" --tided >"$T/kill.log" 2>&1 || fail "devcluster kill $LEADER --tided: $(cat "$T/kill.log")"
t0=$(date +%s%3N)
"$DC" start "$LEADER" >"$T/start.log" 2>&1 &
start_pid=$!
# The host's state as another host sees it, every 0.2 s until the new tided has taken its host
# over and a little longer: it must never show down.
: >"$T/states"
while :; do
	host_state $OTHER "$LEADER" >>"$T/states"
	now=$(date +%s%3N)
	if ! kill -0 "$start_pid" 2>/dev/null && [ $((now - t0)) -gt $(((TTL_S + 2) * 1000)) ]; then break; fi
	[ $((now - t0)) -le 60000 ] || {
		kill "$start_pid"
		fail "devcluster start $LEADER did not end within 60 s"
	}
	sleep 0.2
done
wait "$start_pid" || fail "devcluster start $LEADER (tided only): $(tail -n 5 "$T/start.log")"
took=$(($(date +%s%3N) - t0))
sort -u "$T/states" | tr '\n' ' ' >"$T/states.seen"
[ "$(cat "$T/states.seen")" = "up " ] ||
	fail "$LEADER's state while its tided restarted within the TTL: $(cat "$T/states.seen") (only 'up' expected)"
log "$LEADER's tided killed -9 and started again: its host stayed up ($(wc -l <"$T/states") looks over $took ms)"
sleep 10
members $OTHER >"$T/members.after2"
diff "$T/members.before" "$T/members.after2" >&2 || fail "the group's members changed across $LEADER's tided restart"
for n in $names; do
	dc_domain_running "$L" "$n" || fail "$n's domain is not running on $LEADER after its tided restarted"
	last=$(beats_of "$n" | tail -n 1)
	[ "${last:-0}" -gt "${beats[$n]:-0}" ] || fail "$n's heartbeats did not go on across the restart (${beats[$n]} then $last)"
	[ "$(beats_of "$n" | grep -c '^1$')" -le 1 ] || fail "$n booted again across $LEADER's tided restart"
done
log "restart of $LEADER's tided within the TTL: nothing moved, nothing restarted"

# ---- a superseded leader comes back: stopped past the TTL, another leads; continued, it stops
# leading and nothing it would do is accepted (the group keeps its members) ----
SUP=${L2%% *} REV2=${L2##* }
S=${SUP#h}
W=$([ "$S" = 1 ] && echo 2 || echo 1) # a host that watches
added_before=$(dc_tide $W event list --scaling-group web --limit 1000 -f json |
	jq '[.[] | select(.type == "group.member_added")] | length')
spid=$(dc_field "$S" tided_pid)
kill -STOP "$spid"
t0=$(date +%s%3N)
while :; do
	l=$(leader_via $W)
	if [ -n "$l" ] && [ "${l%% *}" != "$SUP" ]; then break; fi
	if [ $(($(date +%s%3N) - t0)) -gt $(((TTL_S + 5) * 1000)) ]; then
		kill -CONT "$spid"
		fail "no other host leads $((TTL_S + 5)) s after $SUP's tided was stopped (leader: '${l:-none}')"
	fi
	sleep 0.2
done
L3=$(leader_via $W)
[ "${L3##* }" -gt "$REV2" ] || { kill -CONT "$spid"; fail "election revision ${L3##* } not above $REV2"; }
log "$SUP's tided stopped (SIGSTOP): ${L3%% *} leads after $(($(date +%s%3N) - t0)) ms, election revision ${L3##* }"
kill -CONT "$spid"
slog=$(dirname "$(dc_field "$S" state_dir)")/tided.log
dc_wait 10 "$SUP stops leading once continued" grep -q "leader: no longer leading (election revision $REV2)" "$slog"
sleep 5
[ "$(leader_via $W)" = "$L3" ] || fail "the leader is '$(leader_via $W)' after $SUP came back, not $L3"
members $W >"$T/members.after3"
diff "$T/members.before" "$T/members.after3" >&2 || fail "the group's members changed after $SUP came back"
added_after=$(dc_tide $W event list --scaling-group web --limit 1000 -f json |
	jq '[.[] | select(.type == "group.member_added")] | length')
[ "$added_after" = "$added_before" ] || fail "members were added after $SUP came back ($added_before then $added_after)"
log "the superseded $SUP stopped leading; ${L3%% *} still leads; the group kept its members"

dc_down_checked
log "PASS"
echo "1 passed, 0 failed"
