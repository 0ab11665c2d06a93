#!/usr/bin/env bash
# test-autoscale.sh: a scaling group (an autoscaling group) of real tiny guests on one host.
#
# A group of min 1, max 3 with two policies:
#   out  cpu avg > 60 for 10 s: +2, cooldown 20 s
#   in   cpu avg < 20 for 10 s: -1, cooldown 20 s
# Its members share one user-data script; the member named web-1 (the guest's hostname is its
# instance's name) idles IDLE_S after it boots, then runs the load generator for LOAD_S; the
# others idle. Every step waits on what the guests print, with generous bounds, never on a
# wall-clock time fixed in advance (the guests have no channel from the host to be told when).
# 1. idle at its minimum: one member, no decision (in holds, but the group is at min);
# 2. the load starts: the decision to grow to 3 comes within the window plus one sample of the
#    condition becoming true (the first of web-1's samples taken under load above 60 %), with
#    an event that says why; the new members run (while web-1's load still runs, the group's
#    average stays between the thresholds);
# 3. the load stops: the group shrinks one member at a time, the second no sooner than the
#    cooldown after the first; each member that goes is shut down by its guest (its own
#    TIDE-GUEST-POWEROFF line, kept from its console, and an instance.stopped event that says
#    the guest shut down, not that it was powered off at the timeout) before it is deleted;
# 4. a member deleted by hand is replaced;
# 5. the same group written as a Heat template (AutoScalingGroup, two ScalingPolicy resources,
#    two Aodh alarms on cpu_util) gives the same definition, and its member runs.
# Needs TIDED, TIDE, TIDE_GUEST_DIR. Exit: 0 pass, 77 skip, else fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_init autoscale guest

it_start_tided --listen none
"$TIDE" flavor create one --vcpus 1 --ram 160 --disk 1 >/dev/null
it_image_tiny

IDLE_S=25
LOAD_S=60
cat >"$T/user-data" <<EOF
#!/bin/sh
if [ "\$(hostname)" = web-1 ]; then
	echo ASG-IDLE
	sleep $IDLE_S
	echo "ASG-LOAD start \$(date +%s)"
	tide-load --cpu 100 --duration $LOAD_S
	echo ASG-LOAD end
fi
echo ASG-IDLE
EOF

"$TIDE" scaling-group create web --flavor one --image tiny --user-data "$T/user-data" --min 1 --max 3 >/dev/null
"$TIDE" scaling-group policy add web --name out --metric cpu --above 60 --for 10s --adjust +2 --cooldown 20s --victim oldest >/dev/null
"$TIDE" scaling-group policy add web --name in --metric cpu --below 20 --for 10 --adjust -1 --cooldown 20s --victim oldest >/dev/null
# What a group is defined as: compared with the stack's in part 5.
definition() { jq -S '{flavor, image, min, max, spread, priority, policies: [.policies[] |
	{name, metric, stat, op, threshold, for_s, adjust, cooldown_s, victim}]}'; }
"$TIDE" scaling-group show web -f json | definition >"$T/web.json"

show() { "$TIDE" scaling-group show web -f json; }
running() { show | jq '[.members[] | select(.status == "running" and (.leaving | not))] | length'; }
# A decision as "epoch-seconds (with their fraction) from to reason".
decisions() { show | jq -r "$IT_JQ_EPOCH"' .decisions[] | "\(.time | epoch) \(.from) \(.to) \(.reason)"'; }
running_is() { test "$(running)" = "$1"; }
desired_is() { test "$(show | jq '.desired')" = "$1"; }
members_are() { test "$(show | jq '.members | length')" = "$1"; }
have_decision() { test -n "$(decisions)"; }
no_domains() { local d; d=$(it_domains) || fail "cannot list the domains"; test -z "$d"; }
no_server_groups() { test "$("$TIDE" server-group list -f json | jq length)" = 0; }
wait_for() { # SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds
	local s=$1 what=$2
	shift 2
	for _ in $(seq 1 $((s * 2))); do
		keep_consoles
		"$@" && return 0
		sleep 0.5
	done
	fail "$what not within $s s: $(show | jq -c '{desired, members, decisions}')"
}
# Each member's console is hard-linked into $T/consoles/ as it comes: QEMU writes on into the
# same file, which outlives the member's directory, so what a removed guest printed last stays.
mkdir "$T/consoles"
keep_consoles() {
	local id name
	while read -r id name; do
		[ -e "$T/consoles/$name" ] || [ ! -s "$STATE/instances/$id/console.log" ] ||
			ln "$STATE/instances/$id/console.log" "$T/consoles/$name"
	done < <("$TIDE" instance list -f json | jq -r '.[] | select(.status == "running" and (.name | startswith("web-"))) | "\(.id) \(.name)"')
}

log "1. idle at its minimum"
wait_for 90 "one running member" running_is 1
show | jq -e '.members[0].name == "web-1" and .desired == 1' >/dev/null || fail "unexpected members: $(show | jq -c .members)"
wait_console web-1 ASG-IDLE 1 120 || fail "web-1's user-data did not start"
in_holds() { show | jq -e '.policies[] | select(.name == "in") | .holding' >/dev/null; }
wait_for 20 "the in policy holding while idle" in_holds
"$TIDE" instance console web-1 | grep -q 'ASG-LOAD start' && fail "too slow: web-1's load started before its idle minimum was seen"
[ -z "$(decisions)" ] || fail "decisions while idle at the minimum: $(decisions)"

log "2. the load starts"
wait_console web-1 'ASG-LOAD start' 1 $((IDLE_S + 30)) || fail "web-1's load did not start"
load_at=$("$TIDE" instance console web-1 | tr -d '\r' | awk '/^ASG-LOAD start/ { print $3; exit }')
log "web-1's load started at $(date -d "@$load_at" +%T)"
wait_for 60 "a decision to grow" have_decision
read -r t from to reason < <(decisions | head -n 1)
# When the condition became true: web-1's first sample taken under load above 60 % of its vCPU.
cond=$("$TIDE" instance stats web-1 --limit 200 -f json | jq --argjson at "$load_at" \
	'[.history[] | select(.t_ms / 1000 > $at and .cpu_cores / .vcpus > 0.6) | .t_ms / 1000] | min')
[ "$cond" != null ] || fail "no sample of web-1 above 60 % after its load started"
late=$(awk -v t="$t" -v c="$cond" 'BEGIN { printf "%.2f", t - c }')
log "decision $late s after the condition became true ($(awk -v c="$cond" -v a="$load_at" 'BEGIN { printf "%.1f", c - a }') s after the load started): $reason"
[ "$from" = 1 ] && [ "$to" = 3 ] || fail "expected 1→3: $reason"
[[ $reason == "out: cpu avg "*" > 60 for 1"?" s: desired 1→3" ]] || fail "unexpected reason: $reason"
# The window (10 s) plus one sample (the agent samples every second).
awk -v l="$late" 'BEGIN { exit !(l <= 11 && l >= 9) }' ||
	fail "the decision came $late s after the condition became true (window 10 s, one sample 1 s)"
"$TIDE" event list --limit 1000 -f json | jq -e '[.[] | select(.type == "group.scale")] | length == 1' >/dev/null ||
	fail "no group.scale event"
wait_for 120 "3 running members" running_is 3

log "3. the load stops"
"$TIDE" instance console web-1 | grep -q 'ASG-LOAD end' && fail "too slow: the new members came up after the load stopped"
wait_console web-1 'ASG-LOAD end' 1 $((LOAD_S + 30)) || fail "web-1's load did not stop"
until_at=$(date +%s)
wait_for 120 "back to one member" desired_is 1
mapfile -t d < <(decisions)
[ "${#d[@]}" = 3 ] || fail "expected 3 decisions: $(printf '%s; ' "${d[@]}")"
t1=${d[1]%% *}
t2=${d[2]%% *}
t1=${t1%.*}
t2=${t2%.*}
log "shrink decisions at +$((t1 - until_at)) s and +$((t2 - until_at)) s after the load stopped"
[ $((t1 - until_at)) -ge 9 ] || fail "shrank before the window: ${d[1]}"
[ $((t2 - t1)) -ge 19 ] || fail "the second shrink came $((t2 - t1)) s after the first (cooldown 20 s)"
wait_for 120 "the members that go to be deleted" members_are 1
"$TIDE" event list --limit 1000 -f json >"$T/events.json"
jq -r '.[] | select(.type == "group.member_removed") | .instance' "$T/events.json" >"$T/removed"
[ "$(wc -l <"$T/removed")" = 2 ] || fail "expected 2 members removed: $(jq -c '[.[] | select(.type | startswith("group.member")) | .message]' "$T/events.json")"
while read -r m; do
	jq -e --arg m "$m" '[.[] | select(.type == "group.member_removed" and .instance == $m and (.message | test("stopped, deleted")))] | length == 1' \
		"$T/events.json" >/dev/null || fail "$m was not stopped before it was deleted"
	jq -e --arg m "$m" '[.[] | select(.type == "instance.stopped" and .instance == $m)] as $s
		| ($s | length) == 1 and ($s[0].message | test("^guest shut down in ")) and $s[0].severity == "info"' \
		"$T/events.json" >/dev/null ||
		fail "$m was not shut down by its guest: $(jq -c --arg m "$m" '[.[] | select(.type == "instance.stopped" and .instance == $m) | .message]' "$T/events.json")"
	[ -e "$T/consoles/$m" ] || fail "$m's console was not kept"
	tr -d '\r' <"$T/consoles/$m" | grep -q '^TIDE-GUEST-POWEROFF' || fail "$m's guest did not print its poweroff line: $(tail -n 5 "$T/consoles/$m")"
done <"$T/removed"

log "4. a member deleted by hand is replaced"
gone=$(show | jq -r '.members[0].name')
"$TIDE" instance delete "$gone" --wait >/dev/null
wait_for 60 "a replacement" running_is 1
log "replaced by $(show | jq -r '.members[0].name')"

"$TIDE" scaling-group delete web >/dev/null
wait_for 60 "the members to go with the group" no_domains
wait_for 10 "the spread server group to go" no_server_groups

log "5. the same group from a Heat template"
cat >"$T/web.yaml" <<'EOF'
heat_template_version: 2016-10-14
description: A web tier that scales on CPU.
parameters:
  flavor:
    type: string
    default: m1.small
  image:
    type: string
resources:
  web:
    type: OS::Heat::AutoScalingGroup
    properties:
      min_size: 1
      max_size: 3
      resource:
        type: OS::Nova::Server
        properties:
          flavor: {get_param: flavor}
          image: {get_param: image}
          user_data_format: RAW
          user_data: |
            #!/bin/sh
            echo web up
  out:
    type: OS::Heat::ScalingPolicy
    properties:
      adjustment_type: change_in_capacity
      auto_scaling_group_id: {get_resource: web}
      cooldown: 20
      scaling_adjustment: 2
  in:
    type: OS::Heat::ScalingPolicy
    properties:
      adjustment_type: change_in_capacity
      auto_scaling_group_id: {get_resource: web}
      cooldown: 20
      scaling_adjustment: -1
  cpu_high:
    type: OS::Aodh::Alarm
    properties:
      meter_name: cpu_util
      statistic: avg
      period: 10
      evaluation_periods: 1
      threshold: 60
      comparison_operator: gt
      alarm_actions:
        - {get_attr: [out, alarm_url]}
  cpu_low:
    type: OS::Aodh::Alarm
    properties:
      meter_name: cpu_util
      statistic: avg
      period: 5
      evaluation_periods: 2
      threshold: 20
      comparison_operator: lt
      alarm_actions:
        - {get_attr: [in, alarm_url]}
EOF
out=$("$TIDE" stack create shop --template "$T/web.yaml" 2>&1) && fail "a stack without its required parameter was created"
grep -q "image" <<<"$out" || fail "the error does not name the missing parameter: $out"
# `tide group` is the old name of `tide scaling-group`, still accepted.
[ "$("$TIDE" group list -f json | jq length)" = 0 ] || fail "a failed stack left a group"
"$TIDE" stack create shop --template "$T/web.yaml" --parameter flavor=one --parameter image=tiny >/dev/null
"$TIDE" scaling-group show shop-web -f json | definition >"$T/shop.json"
diff -u "$T/web.json" "$T/shop.json" || fail "the template's group differs from the one made with the CLI"
stack_member_runs() { test "$("$TIDE" instance list -f json | jq '[.[] | select(.name == "shop-web-1" and .status == "running")] | length')" = 1; }
wait_for 90 "the stack's member" stack_member_runs
"$TIDE" stack show shop -f json | jq -e '.groups == [{"name": "shop-web", "min": 1, "max": 3, "desired": 1,
	"member_count": 1, "policy_count": 2}]' >/dev/null || fail "stack show: $("$TIDE" stack show shop -f json)"
"$TIDE" scaling-group delete shop-web 2>/dev/null && fail "a stack's group was deleted on its own"
"$TIDE" stack delete shop >/dev/null
wait_for 60 "the stack's members to go" no_domains
[ "$("$TIDE" scaling-group list -f json | jq length)" = 0 ] || fail "the stack's group is left"
log "PASS"

