#!/usr/bin/env bash
# test-autoscale.sh: an autoscaling group of real tiny guests on one host.
#
# A group of min 1, max 3 whose members run the guest's load generator between two wall-clock
# times fixed in their user-data (the guests' clock is the host's), with two policies:
#   out  cpu avg > 60 for 10 s: +2, cooldown 20 s
#   in   cpu avg < 20 for 10 s: -1, cooldown 20 s
# 1. idle at its minimum: one member, no decision (in holds, but the group is at min);
# 2. the load starts: the group grows to 3 within the window plus a few seconds (a sample, a
#    pass), with a decision and an event that say why; the new members boot;
# 3. the load stops: the group shrinks one member at a time, the second no sooner than the
#    cooldown after the first; each member that goes is shut down before it is deleted;
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

FROM=$(($(date +%s) + 45))
UNTIL=$((FROM + 45))
cat >"$T/user-data" <<EOF
#!/bin/sh
now=\$(date +%s)
[ \$now -lt $FROM ] && sleep \$(($FROM - now))
now=\$(date +%s)
if [ \$now -lt $UNTIL ]; then
	echo ASG-LOAD start
	exec tide-load --cpu 100 --duration \$(($UNTIL - now))
fi
echo ASG-LOAD none
EOF

"$TIDE" group create web --flavor one --image tiny --user-data "$T/user-data" --min 1 --max 3 >/dev/null
"$TIDE" group policy add web --name out --metric cpu --above 60 --for 10s --adjust +2 --cooldown 20s --victim oldest >/dev/null
"$TIDE" group policy add web --name in --metric cpu --below 20 --for 10 --adjust -1 --cooldown 20s --victim oldest >/dev/null
# What a group is defined as: compared with the stack's in part 5.
definition() { jq -S '{flavor, image, min, max, spread, priority, policies: [.policies[] |
	{name, metric, stat, op, threshold, for_s, adjust, cooldown_s, victim}]}'; }
"$TIDE" group show web -f json | definition >"$T/web.json"

show() { "$TIDE" group show web -f json; }
running() { show | jq '[.members[] | select(.status == "running" and (.leaving | not))] | length'; }
decisions() { show | jq -r '.decisions[] | "\(.time | sub("\\.[0-9]+Z$"; "Z") | fromdate) \(.from) \(.to) \(.reason)"'; }
running_is() { test "$(running)" = "$1"; }
desired_is() { test "$(show | jq '.desired')" = "$1"; }
members_are() { test "$(show | jq '.members | length')" = "$1"; }
have_decision() { test -n "$(decisions)"; }
no_domains() { test -z "$(it_domains)"; }
no_server_groups() { test "$("$TIDE" server-group list -f json | jq length)" = 0; }
wait_for() { # SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds
	local s=$1 what=$2
	shift 2
	for _ in $(seq 1 $((s * 2))); do
		"$@" && return 0
		sleep 0.5
	done
	fail "$what not within $s s: $(show | jq -c '{desired, members, decisions}')"
}

log "1. idle at its minimum"
wait_for 90 "one running member" running_is 1
show | jq -e '.members[0].name == "web-1" and .desired == 1' >/dev/null || fail "unexpected members: $(show | jq -c .members)"
now=$(date +%s)
[ "$now" -lt "$FROM" ] || fail "too slow: the member booted after the load started"
sleep $((FROM - now))
[ -z "$(decisions)" ] || fail "decisions while idle at the minimum: $(decisions)"
show | jq -e '.policies[] | select(.name == "in") | .holding' >/dev/null || fail "the in policy does not hold while idle"

log "2. the load starts at $(date -d "@$FROM" +%T)"
wait_for 60 "a decision to grow" have_decision
read -r t from to reason < <(decisions | head -n 1)
log "decision $((t - FROM)) s after the load started: $reason"
[ "$from" = 1 ] && [ "$to" = 3 ] || fail "expected 1→3: $reason"
[[ $reason == "out: cpu avg "*" > 60 for 1"?" s: desired 1→3" ]] || fail "unexpected reason: $reason"
[ $((t - FROM)) -le 16 ] || fail "the decision came $((t - FROM)) s after the load started (window 10 s)"
"$TIDE" event list -f json | jq -e '[.[] | select(.type == "group.scale")] | length == 1' >/dev/null ||
	fail "no group.scale event"
wait_for 120 "3 running members" running_is 3

log "3. the load stops at $(date -d "@$UNTIL" +%T)"
now=$(date +%s)
[ "$now" -lt "$UNTIL" ] || fail "too slow: the new members came up after the load stopped"
wait_for $((UNTIL - now + 90)) "back to one member" desired_is 1
mapfile -t d < <(decisions)
[ "${#d[@]}" = 3 ] || fail "expected 3 decisions: $(printf '%s; ' "${d[@]}")"
t1=${d[1]%% *}
t2=${d[2]%% *}
log "shrink decisions at +$((t1 - UNTIL)) s and +$((t2 - UNTIL)) s after the load stopped"
[ $((t1 - UNTIL)) -ge 9 ] || fail "shrank before the window: ${d[1]}"
[ $((t2 - t1)) -ge 19 ] || fail "the second shrink came $((t2 - t1)) s after the first (cooldown 20 s)"
wait_for 120 "the members that go to be deleted" members_are 1
removed=$("$TIDE" event list -f json | jq '[.[] | select(.type == "group.member_removed" and (.message | test("stopped, deleted")))] | length')
[ "$removed" = 2 ] || fail "expected 2 members shut down and deleted: $("$TIDE" event list -f json | jq -c '[.[] | select(.type | startswith("group.member")) | .message]')"

log "4. a member deleted by hand is replaced"
gone=$(show | jq -r '.members[0].name')
"$TIDE" instance delete "$gone" --wait >/dev/null
wait_for 60 "a replacement" running_is 1
log "replaced by $(show | jq -r '.members[0].name')"

"$TIDE" group delete web >/dev/null
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
[ "$("$TIDE" group list -f json | jq length)" = 0 ] || fail "a failed stack left a group"
"$TIDE" stack create shop --template "$T/web.yaml" --parameter flavor=one --parameter image=tiny >/dev/null
"$TIDE" group show shop-web -f json | definition >"$T/shop.json"
diff -u "$T/web.json" "$T/shop.json" || fail "the template's group differs from the one made with the CLI"
stack_member_runs() { test "$("$TIDE" instance list -f json | jq '[.[] | select(.name == "shop-web-1" and .status == "running")] | length')" = 1; }
wait_for 90 "the stack's member" stack_member_runs
"$TIDE" stack show shop -f json | jq -e '.groups == [{"name": "shop-web", "min": 1, "max": 3, "desired": 1,
	"member_count": 1, "policy_count": 2}]' >/dev/null || fail "stack show: $("$TIDE" stack show shop -f json)"
"$TIDE" group delete shop-web 2>/dev/null && fail "a stack's group was deleted on its own"
"$TIDE" stack delete shop >/dev/null
wait_for 60 "the stack's members to go" no_domains
[ "$("$TIDE" group list -f json | jq length)" = 0 ] || fail "the stack's group is left"
log "PASS"

