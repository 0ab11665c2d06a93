#!/usr/bin/env bash
# test-networks.sh: networks and ports through a real tided and the CLI, on a simulated host
# (hv_sim: the store side only; no guest has a NIC yet and no host is plumbed here).
#
# Bad input is refused with a clear message and nothing created: a malformed CIDR, a gateway
# outside it (or on its network or broadcast address), a VNI or VLAN ID out of range, a bad
# interface name, an unknown type or a type without its options, a VNI another network holds;
# an instance whose port asks for an address outside the subnet or taken, or an unknown
# network. 62 concurrent HTTP creates with a port on one /26 give 61 distinct addresses and
# MACs and one clear "no free address"; two networks with one CIDR are apart; a network with
# ports cannot be deleted; a deleted instance's or port's address goes back to the pool. A
# scaling group's members each get a port on its networks, and lose them with the group; so do
# a Heat stack's (OS::Nova::Server networks), and a stack naming an unknown network is refused
# with the template's line.
# The checker of "nothing created" is first shown a change, which it must see.
# Needs TIDED and TIDE. Exit: 0 pass, anything else fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_init networks

# Everything the store holds of networks and instances, as the API shows it (a tool's failure
# fails the test).
snapshot() {
	"$TIDE" network list -f json >"$T/snap.nets" || fail "network list failed"
	"$TIDE" instance list -f json >"$T/snap.insts" || fail "instance list failed"
	curl -sf --unix-socket "$TIDE_SOCKET" http://localhost/v1/ports >"$T/snap.ports" || fail "GET /v1/ports failed"
	jq -S '[.[] | {id, name, vni, vlan}]' "$T/snap.nets" >"$T/snap"
	jq -S '[.[] | {id, name, ports}]' "$T/snap.insts" >>"$T/snap"
	jq -S '[.ports[] | {id, ip, mac}]' "$T/snap.ports" >>"$T/snap"
	"$TIDE" stack list -f json | jq -S '[.[] | {id, name}]' >>"$T/snap" || fail "stack list failed"
	"$TIDE" scaling-group list -f json | jq -S '[.[] | {id, name}]' >>"$T/snap" || fail "scaling-group list failed"
	cat "$T/snap"
}
# post PATH BODY: POSTs to tided, the answer on stderr; fails unless the status is 2xx.
post() {
	local code
	code=$(curl -s --unix-socket "$TIDE_SOCKET" -o "$T/post.out" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' -d "$2" "http://localhost$1")
	cat "$T/post.out" >&2
	case $code in 2??) return 0 ;; *) return 1 ;; esac
}
# refused WHAT PATTERN COMMAND...: COMMAND must fail with PATTERN in its error, and leave the
# store's networks, instances and ports as they were.
refused() {
	local what=$1 pattern=$2 rc=0
	shift 2
	snapshot >"$T/before"
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" != 0 ] || fail "$what: accepted: $(cat "$T/out")"
	grep -q -- "$pattern" "$T/err" || fail "$what: error '$(cat "$T/err")' does not say '$pattern'"
	snapshot >"$T/after"
	cmp -s "$T/before" "$T/after" || fail "$what: left something behind: $(diff "$T/before" "$T/after" | head -5)"
	log "refused: $what ($(head -c 120 "$T/err"))"
}

it_start_tided --listen none --sim-hosts 1 --sim-shape cpus=64,numa=1,mem_mib=262144,disk_gib=10000
truncate -s 16M "$T/disk.raw"
"$TIDE" image create img --disk "$T/disk.raw" >/dev/null
"$TIDE" flavor create tiny --vcpus 1 --ram 64 --disk 1 >/dev/null

# The checker must see a change: a network created between two snapshots.
snapshot >"$T/s1"
"$TIDE" network create probe --cidr 10.99.0.0/24 --type vxlan >/dev/null
snapshot >"$T/s2"
! cmp -s "$T/s1" "$T/s2" || fail "the snapshot does not see a new network"
"$TIDE" network delete probe
snapshot >"$T/s3"
cmp -s "$T/s1" "$T/s3" || fail "the snapshot differs after the probe went"

log "networks: bad input"
refused "malformed CIDR" "malformed CIDR '10.20.0.0/33'" "$TIDE" network create bad --cidr 10.20.0.0/33 --type vxlan
refused "CIDR without prefix" "malformed CIDR" "$TIDE" network create bad --cidr 10.20.0.0 --type vxlan
refused "CIDR with host bits" "host bits set" "$TIDE" network create bad --cidr 10.20.0.5/24 --type vxlan
refused "gateway outside" "gateway 10.21.0.1 is outside 10.20.0.0/24" \
	"$TIDE" network create bad --cidr 10.20.0.0/24 --gateway 10.21.0.1 --type vxlan
refused "gateway on the broadcast address" "broadcast address" \
	"$TIDE" network create bad --cidr 10.20.0.0/24 --gateway 10.20.0.255 --type vxlan
refused "VNI out of range" "--vni must be a whole number from 1 to 16777215" \
	"$TIDE" network create bad --cidr 10.20.0.0/24 --type vxlan --vni 16777216
refused "VNI out of range (API)" "'vni' must be" post /v1/networks '{"name":"bad","type":"vxlan","cidr":"10.20.0.0/24","vni":0}'
refused "VLAN out of range" "--vlan must be a whole number from 1 to 4094" \
	"$TIDE" network create bad --cidr 10.20.0.0/24 --type vlan --vlan 4095 --physdev eth0
refused "bad physdev" "is not an interface name" \
	"$TIDE" network create bad --cidr 10.20.0.0/24 --type vlan --physdev 'eth/0'
refused "vlan without physdev" "needs 'physdev'" "$TIDE" network create bad --cidr 10.20.0.0/24 --type vlan
refused "flat without bridge" "needs 'bridge'" "$TIDE" network create bad --cidr 10.20.0.0/24 --type flat
refused "unknown type" "--type must be vxlan, vlan or flat" "$TIDE" network create bad --cidr 10.20.0.0/24 --type gre
refused "unknown type (API)" "unknown network type 'gre'" post /v1/networks '{"name":"bad","type":"gre","cidr":"10.20.0.0/24"}'
refused "option of another type" "'bridge' does not apply to a vxlan network" \
	"$TIDE" network create bad --cidr 10.20.0.0/24 --type vxlan --bridge br0

log "networks: created"
"$TIDE" network create web --cidr 10.20.0.0/26 --type vxlan --vni 5000 --dns 10.20.0.1 -f json >"$T/web.json"
jq -e '.vni == 5000 and .mtu == 1450 and .gateway == "10.20.0.1" and .dns == ["10.20.0.1"]' "$T/web.json" >/dev/null ||
	fail "web: $(cat "$T/web.json")"
refused "VNI taken" "VNI 5000 is used by network 'web'" \
	"$TIDE" network create other --cidr 10.30.0.0/24 --type vxlan --vni 5000
"$TIDE" network create twin --cidr 10.20.0.0/26 --type vxlan -f json >"$T/twin.json"
jq -e '.vni >= 4096 and .vni != 5000' "$T/twin.json" >/dev/null || fail "twin's VNI: $(cat "$T/twin.json")"
"$TIDE" network create lan --cidr 192.168.50.0/24 --type vlan --vlan 100 --physdev eth0 -f json >"$T/lan.json"
jq -e '.vlan == 100 and .mtu == 1500' "$T/lan.json" >/dev/null || fail "lan: $(cat "$T/lan.json")"

log "instances: bad ports"
refused "address outside the subnet" "address 10.20.1.5 is outside" \
	"$TIDE" instance create x --flavor tiny --image img --network web:ip=10.20.1.5
refused "broadcast address" "broadcast address" \
	"$TIDE" instance create x --flavor tiny --image img --network web:ip=10.20.0.63
refused "unknown network" "network 'nope': not found" "$TIDE" instance create x --flavor tiny --image img --network nope
refused "unknown network after a good one" "network 'nope': not found" \
	"$TIDE" instance create x --flavor tiny --image img --network web --network nope
refused "malformed --network" "--network must be NAME or NAME:ip=A.B.C.D" \
	"$TIDE" instance create x --flavor tiny --image img --network web:10.20.0.5
"$TIDE" instance create a --flavor tiny --image img --network web:ip=10.20.0.5 --network twin:ip=10.20.0.5 \
	-f json >"$T/a.json"
jq -e '[.ports[].ip] == ["10.20.0.5", "10.20.0.5"] and ([.ports[].network] == ["web", "twin"])' "$T/a.json" \
	>/dev/null || fail "a's ports (one address on two networks of one CIDR): $(jq -c .ports "$T/a.json")"
refused "address taken" "address 10.20.0.5 is taken" \
	"$TIDE" instance create x --flavor tiny --image img --network web:ip=10.20.0.5
refused "network with ports deleted" "network 'web' has 1 port(s)" "$TIDE" network delete web

log "62 concurrent creates on a /26 (60 addresses left)"
seq 1 62 | xargs -P 50 -I{} curl -s --unix-socket "$TIDE_SOCKET" -o "$T/c{}.out" -w '%{http_code}\n' \
	-X POST -H 'Content-Type: application/json' \
	-d '{"name":"c{}","flavor":"tiny","image":"img","networks":[{"network":"web"}]}' \
	http://localhost/v1/instances >"$T/codes"
[ "$(grep -c '^202$' "$T/codes")" = 60 ] || fail "not 60 created: $(sort "$T/codes" | uniq -c | tr '\n' ' ')"
[ "$(grep -c '^409$' "$T/codes")" = 2 ] || fail "not 2 refused: $(sort "$T/codes" | uniq -c | tr '\n' ' ')"
for f in "$T"/c*.out; do
	if jq -e '.error' "$f" >/dev/null; then
		jq -e '.error.message == "network '"'web'"' (10.20.0.0/26) has no free address"' "$f" >/dev/null ||
			fail "refusal: $(cat "$f")"
	fi
done
"$TIDE" network show web -f json >"$T/web-show.json"
jq -e '(.ports | length) == 61 and ([.ports[].ip] | unique | length) == 61 and
	([.ports[].mac] | unique | length) == 61 and
	([.ports[].ip] | map(. != "10.20.0.0" and . != "10.20.0.1" and . != "10.20.0.63") | all) and
	([.ports[].mac] | map(test("^02(:[0-9a-f]{2}){5}$")) | all)' "$T/web-show.json" >/dev/null ||
	fail "web's ports: $(jq -c '[.ports[] | .ip]' "$T/web-show.json")"
"$TIDE" instance list -f json >"$T/insts.json"
[ "$(jq 'length' "$T/insts.json")" = 61 ] || fail "not 61 instances: $(jq length "$T/insts.json")"
refused "full subnet" "network 'web' (10.20.0.0/26) has no free address" \
	"$TIDE" instance create x --flavor tiny --image img --network web

log "addresses back to the pool"
ip=$(jq -r '.ports[0].ip' "$T/c1.out")
"$TIDE" instance delete c1 --wait --timeout 60 >/dev/null
"$TIDE" instance create back --flavor tiny --image img --network "web:ip=$ip" -f json >"$T/back.json"
jq -e --arg ip "$ip" '.ports[0].ip == $ip' "$T/back.json" >/dev/null || fail "c1's address $ip not given again"
"$TIDE" instance port remove a --network twin
jq -e '(.ports | length) == 0' <("$TIDE" network show twin -f json) >/dev/null || fail "a's port on twin stays"
"$TIDE" instance port add back --network twin:ip=10.20.0.5 -f json >"$T/port.json"
jq -e '.ip == "10.20.0.5" and .network == "twin"' "$T/port.json" >/dev/null || fail "port add: $(cat "$T/port.json")"
refused "port on a full network" "has no free address" "$TIDE" instance port add a --network web
"$TIDE" instance port remove back --network twin

log "scaling groups"
refused "group on an unknown network" "network 'nope': not found" \
	"$TIDE" scaling-group create g --flavor tiny --image img --min 2 --network nope
refused "group with a fixed address" "members get free addresses" \
	"$TIDE" scaling-group create g --flavor tiny --image img --min 2 --network twin:ip=10.20.0.9
"$TIDE" scaling-group create g --flavor tiny --image img --min 3 --network twin >/dev/null
# twin_ports_are JSON: the instances of twin's ports are JSON (sorted).
twin_ports_are() {
	local now
	now=$("$TIDE" network show twin -f json | jq -c '[.ports[] | .instance] | sort') || fail "network show twin"
	[ "$now" = "$1" ]
}
it_wait 30 "the group's 3 members on twin" twin_ports_are '["g-1","g-2","g-3"]'
"$TIDE" scaling-group delete g >/dev/null
it_wait 30 "the group's ports gone" twin_ports_are '[]'

log "Heat stacks"
cat >"$T/stack.yaml" <<'EOF'
heat_template_version: 2015-04-30
parameters:
  net: {type: string, default: twin}
resources:
  app:
    type: OS::Heat::AutoScalingGroup
    properties:
      min_size: 2
      max_size: 2
      resource:
        type: OS::Nova::Server
        properties:
          image: img
          flavor: tiny
          networks:
            - network: {get_param: net}
EOF
sed 's/- network: {get_param: net}/- {network: twin, fixed_ip: 10.20.0.9}/' "$T/stack.yaml" >"$T/fixed.yaml"
refused "stack on an unknown network" "template: line 16: network 'nope' does not exist" \
	"$TIDE" stack create s --template "$T/stack.yaml" --parameter net=nope
refused "stack with a fixed address" "line 16: resource 'app': network property 'fixed_ip' is not supported" \
	"$TIDE" stack create s --template "$T/fixed.yaml"
"$TIDE" stack create s --template "$T/stack.yaml" >/dev/null
it_wait 30 "the stack's 2 members on twin" twin_ports_are '["s-app-1","s-app-2"]'
"$TIDE" stack delete s >/dev/null
it_wait 30 "the stack's ports gone" twin_ports_are '[]'

"$TIDE" network delete twin
"$TIDE" network delete lan
log "PASS"
