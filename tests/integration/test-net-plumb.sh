#!/usr/bin/env bash
# test-net-plumb.sh: the host plumbing of networks (src/net: net_plan + net_apply) on the real
# kernel, in network namespaces of its own: three "hosts" (namespaces) whose underlay addresses
# 10.77.0.1-3 sit on a bridge in a fourth namespace, and "guests" (namespaces with a veth whose
# host end stands for a VM's tap on the network's bridge). net_apply runs through
# test_net_apply_tool, a new process each time (as a restarted tided); what it made is checked
# with iproute2 (`ip -d -j link`, `bridge -j fdb`), independently of libnl.
#
#   dry run   --dry-run lists the devices to create and creates none
#   plumb     two VXLAN networks with the same CIDR over three hosts, a flat network on an
#             operator's bridge: exactly the planned links (kind, master, MTU, VNI, local
#             address, port 4789, learning off) and forwarding entries (flood to exactly the
#             other hosts with ports, one entry per remote port); the operator's devices (a
#             bridge, a vxlan device and a veth not named by tide, the flat bridge) untouched
#   again     a second apply changes nothing (no action, same ifindexes)
#   data      a guest pings guests of its network on the two other hosts across VXLAN; a guest
#             of the other network (same CIDR) reaches its own network's address and not the
#             first network's
#   drift     devices changed by hand (MTU, master, a flood entry gone, a port's entry pointing
#             elsewhere, a stray tide device) are put back by the next apply
#   move      a port migrates from h3 to h2: h3 loses its last port and all its tide devices,
#             h1 forwards the port's MAC to h2 and floods only to h2; the ping follows
#   last      every port of h1 deleted: h1 has no tide device; the operator's still there
#   refusals  a flat network whose bridge is missing, a bridge name held by a veth: errors
#             naming them, the veth untouched, the host's other networks plumbed
#   vlan      (when the kernel has 802.1Q) a VLAN network: <physdev>.<vlan> on a bridge, removed
#             with its last port
# Root only (exit 77 otherwise, or without vxlan in the kernel). Needs NET_APPLY (the tool).
# Traffic only between namespaces this test creates.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

: "${NET_APPLY:?NET_APPLY must name test_net_apply_tool}"
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (network namespaces)"
	exit 77
fi
for p in ip bridge jq busybox; do command -v $p >/dev/null || fail "$p is missing (scripts/setup)"; done

P=tnp$$ # namespace names of this run
T=$(mktemp -d /tmp/tide-net-plumb.XXXXXX)
NSS=()
cleanup() {
	local rc=$?
	for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	if [ $rc -eq 0 ]; then rm -rf "$T"; else log "files kept in $T"; fi
}
trap cleanup EXIT
newns() { ip netns add "$1" && NSS+=("$1") && ip -n "$1" link set lo up; }

# The kernel must have vxlan: try it in a scratch namespace.
newns "$P-probe"
if ! ip -n "$P-probe" link add vxprobe type vxlan id 1 dstport 4789 2>/dev/null; then
	echo "SKIP: the kernel has no vxlan devices"
	exit 77
fi
HAVE_VLAN=0
ip -n "$P-probe" link add vp0 type veth peer name vp1 &&
	ip -n "$P-probe" link add link vp0 name vp0.5 type vlan id 5 2>/dev/null && HAVE_VLAN=1

# ---- the underlay: h1..h3 on a bridge in namespace u ----------------------------------------
U=$P-u
newns "$U"
ip -n "$U" link add ul type bridge
ip -n "$U" link set ul up
for i in 1 2 3; do
	H=$P-h$i
	newns "$H"
	ip -n "$H" link add uplink type veth peer name h$i netns "$U"
	ip -n "$U" link set h$i master ul up
	ip -n "$H" addr add 10.77.0.$i/24 dev uplink
	ip -n "$H" link set uplink up
done
ip netns exec "$P-h1" busybox ping -c 1 -W 2 10.77.0.3 >/dev/null || fail "the underlay does not carry h1 -> h3"

# The operator's devices on h1, none of them tide's: the flat network's bridge, a bridge with a
# port, a vxlan device and a veth whose names are not tide's, and a veth named like tide's.
ip -n "$P-h1" link add brlan type bridge
ip -n "$P-h1" link add br-op type bridge
ip -n "$P-h1" link add vx-op type vxlan id 999 dstport 4789 local 10.77.0.1
ip -n "$P-h1" link set vx-op master br-op
ip -n "$P-h1" link add tbr-veth type veth peer name op-peer
OPERATOR_DEVICES="brlan br-op vx-op tbr-veth op-peer"

# ---- views ----------------------------------------------------------------------------------
# view PORTS...: a view of networks red (vxlan 100), blue (vxlan 200, same CIDR), lan (flat on
# brlan) and, with 802.1Q, v30 (vlan 30 on h1's uplink); each port is ID:NETWORK:MAC:HOST.
view() {
	local ports=() p id net mac host
	for p in "$@"; do
		IFS=: read -r id net mac host <<<"${p//-/:}"
		ports+=("$(jq -cn --arg id "$id" --arg n "$net" --arg m "${mac//./:}" --arg h "$host" \
			'{id: $id, network_id: $n, mac: $m, host: $h}')")
	done
	jq -n --argjson ports "[$(
		IFS=,
		echo "${ports[*]}"
	)]" '{
	  networks: [
	    {id: "red", type: "vxlan", cidr: "10.20.0.0/24", vni: 100, mtu: 1450},
	    {id: "blue", type: "vxlan", cidr: "10.20.0.0/24", vni: 200, mtu: 1450},
	    {id: "lan", type: "flat", cidr: "192.168.50.0/24", bridge: "brlan"},
	    {id: "v30", type: "vlan", cidr: "10.30.0.0/24", vlan: 30, physdev: "uplink", mtu: 1400}
	  ],
	  ports: $ports,
	  hosts: [{name: "h1", address: "10.77.0.1"}, {name: "h2", address: "10.77.0.2"},
	          {name: "h3", address: "10.77.0.3"}]
	}'
}

# apply N VIEW: net_apply on host hN; its output in $T/apply-hN.out, its JSON line echoed.
apply() {
	ip netns exec "$P-h$1" "$NET_APPLY" "$2" h$1 >"$T/apply-h$1.out" 2>"$T/apply-h$1.err" ||
		fail "apply on h$1: $(cat "$T/apply-h$1.err")"
	tail -n 1 "$T/apply-h$1.out"
}
apply_all() { # VIEW
	for i in 1 2 3; do apply $i "$1" >/dev/null; done
}

# links N: tide's devices on hN as iproute2 sees them (the operator's veth tbr-veth aside: it is
# checked by operator_intact), one sorted line each:
# name kind master mtu up [vni local port learning | vlan-id parent]
links() {
	ip -n "$P-h$1" -d -j link show | jq -r '.[] | select(.ifname | test("^t(br|vx|vl)-|^uplink\\."))
	  | select(.linkinfo.info_kind != "veth")
	  | [.ifname, .linkinfo.info_kind, (.master // "-"), .mtu, (if (.flags | index("UP")) then "up" else "down" end)]
	    + (if .linkinfo.info_kind == "vxlan" then
	         [.linkinfo.info_data.id, .linkinfo.info_data.local, .linkinfo.info_data.port,
	          (if .linkinfo.info_data.learning then "learning" else "nolearning" end)]
	       elif .linkinfo.info_kind == "vlan" then [.linkinfo.info_data.id, .link] else [] end)
	  | map(tostring) | join(" ")' | sort
}
# ifindexes N: name:ifindex of every device of hN (recreation changes them).
ifindexes() { ip -n "$P-h$1" -j link show | jq -r '.[] | "\(.ifname):\(.ifindex)"' | sort; }
# fdb N DEV: the vxlan device's own entries (mac dst), sorted.
fdb() { ip netns exec "$P-h$1" bridge -j fdb show dev "$2" | jq -r '.[] | select(.dst) | "\(.mac) \(.dst)"' | sort; }
expect() { # WHAT EXPECTED GOT
	[ "$2" = "$3" ] || fail "$1: expected
$2
got
$3"
}
operator_intact() { # WHEN
	local d
	for d in $OPERATOR_DEVICES; do
		ip -n "$P-h1" link show "$d" >/dev/null 2>&1 || fail "$1: the operator's $d is gone"
	done
	expect "$1: vx-op stays on br-op" br-op "$(ip -n "$P-h1" -j link show vx-op | jq -r '.[0].master')"
}

# guest NAME HOST_N BRIDGE MAC IP: a namespace whose eth0 is a veth, its host end on BRIDGE of hN
# (what libvirt does with a VM's tap).
guest() {
	local g=$P-$1
	ip netns list | grep -qw "$g" || newns "$g"
	ip -n "$P-h$2" link add "t$1" type veth peer name eth0 netns "$g"
	ip -n "$g" link set eth0 address "$4" mtu 1450
	ip -n "$g" addr replace "$5/24" dev eth0
	ip -n "$g" link set eth0 up
	ip -n "$P-h$2" link set "t$1" mtu 1450 master "$3" up
}
pings() { ip netns exec "$P-$1" busybox ping -c 1 -W 2 "$2" >/dev/null 2>&1; }
pings_soon() { # GUEST IP: a few tries (ARP, the bridge's learning)
	for _ in 1 2 3; do pings "$1" "$2" && return 0; done
	return 1
}

MAC_R1=02:00:00:00:01:01 MAC_R2=02:00:00:00:01:02 MAC_R3=02:00:00:00:01:03
MAC_B1=02:00:00:00:02:01 MAC_B2=02:00:00:00:02:02 MAC_L1=02:00:00:00:03:01
MAC_V1=02:00:00:00:04:01
d() { echo "${1//:/.}"; } # a MAC for view's PORT syntax
PORTS=("r1-red-$(d $MAC_R1)-h1" "r2-red-$(d $MAC_R2)-h2" "r3-red-$(d $MAC_R3)-h3"
	"b1-blue-$(d $MAC_B1)-h1" "b2-blue-$(d $MAC_B2)-h2" "l1-lan-$(d $MAC_L1)-h1")
[ $HAVE_VLAN = 0 ] || PORTS+=("v1-v30-$(d $MAC_V1)-h1")
view "${PORTS[@]}" >"$T/view1.json"

# ---- plumb ----------------------------------------------------------------------------------
log "dry run: says what it would do, does nothing"
ip netns exec "$P-h2" "$NET_APPLY" --dry-run "$T/view1.json" h2 >"$T/dry.out" || fail "dry run: $(cat "$T/dry.out")"
grep -q '^create vxlan tvx-100 vni 100 local 10.77.0.2 ' "$T/dry.out" || fail "dry run: no vxlan to create: $(cat "$T/dry.out")"
expect "h2's links after a dry run" "" "$(links 2)"

log "plumb: three hosts, two vxlan networks with one CIDR, a flat one"
out=$(apply 1 "$T/view1.json")
log "h1: $out"
apply 2 "$T/view1.json" >/dev/null
apply 3 "$T/view1.json" >/dev/null
V30=""
[ $HAVE_VLAN = 0 ] || V30=$(jq -r '.networks[] | select(.id == "v30") | .id' "$T/view1.json")
VLAN_BRIDGE=$(grep -o 'tbr-v30-[0-9a-f]*' "$T/apply-h1.out" | head -n 1 || true)
expected_h1="tbr-100 bridge - 1450 up
tbr-200 bridge - 1450 up
tvx-100 vxlan tbr-100 1450 up 100 10.77.0.1 4789 nolearning
tvx-200 vxlan tbr-200 1450 up 200 10.77.0.1 4789 nolearning"
if [ -n "$V30" ]; then
	expected_h1=$(printf '%s\n%s\n%s\n' "$expected_h1" "$VLAN_BRIDGE bridge - 1400 up" \
		"uplink.30 vlan $VLAN_BRIDGE 1400 up 30 uplink" | sort)
fi
expect "h1's links" "$expected_h1" "$(links 1)"
expect "h2's links" "tbr-100 bridge - 1450 up
tbr-200 bridge - 1450 up
tvx-100 vxlan tbr-100 1450 up 100 10.77.0.2 4789 nolearning
tvx-200 vxlan tbr-200 1450 up 200 10.77.0.2 4789 nolearning" "$(links 2)"
expect "h3's links (no port of blue there)" "tbr-100 bridge - 1450 up
tvx-100 vxlan tbr-100 1450 up 100 10.77.0.3 4789 nolearning" "$(links 3)"
expect "h1's red entries" "00:00:00:00:00:00 10.77.0.2
00:00:00:00:00:00 10.77.0.3
$MAC_R2 10.77.0.2
$MAC_R3 10.77.0.3" "$(fdb 1 tvx-100)"
expect "h1's blue entries" "00:00:00:00:00:00 10.77.0.2
$MAC_B2 10.77.0.2" "$(fdb 1 tvx-200)"
expect "h2's red entries" "00:00:00:00:00:00 10.77.0.1
00:00:00:00:00:00 10.77.0.3
$MAC_R1 10.77.0.1
$MAC_R3 10.77.0.3" "$(fdb 2 tvx-100)"
expect "h3's red entries" "00:00:00:00:00:00 10.77.0.1
00:00:00:00:00:00 10.77.0.2
$MAC_R1 10.77.0.1
$MAC_R2 10.77.0.2" "$(fdb 3 tvx-100)"
expect "brlan, the operator's flat bridge, has no tide device" "" \
	"$(ip -n "$P-h1" -j link show master brlan | jq -r '.[].ifname')"
operator_intact "after the first apply"

# ---- again ----------------------------------------------------------------------------------
log "again: a second apply (a new process) changes nothing"
before=$(ifindexes 1)
for i in 1 2 3; do
	expect "h$i's second apply" \
		'{"links_created":0,"links_changed":0,"links_deleted":0,"fdb_added":0,"fdb_deleted":0}' \
		"$(apply $i "$T/view1.json" | jq -c 'del(.apply_ms)')"
	[ "$(grep -vc '^{' "$T/apply-h$i.out" || true)" = 0 ] || fail "h$i's second apply acted: $(cat "$T/apply-h$i.out")"
done
expect "h1's ifindexes after the second apply" "$before" "$(ifindexes 1)"

# ---- data -----------------------------------------------------------------------------------
log "data: pings across vxlan, and the other network with the same CIDR stays apart"
guest r1 1 tbr-100 $MAC_R1 10.20.0.1
guest r2 2 tbr-100 $MAC_R2 10.20.0.2
guest r3 3 tbr-100 $MAC_R3 10.20.0.3
guest b1 1 tbr-200 $MAC_B1 10.20.0.11
guest b2 2 tbr-200 $MAC_B2 10.20.0.2
pings_soon r1 10.20.0.2 || fail "r1 (h1) does not reach r2 (h2) on red"
pings_soon r1 10.20.0.3 || fail "r1 (h1) does not reach r3 (h3) on red"
pings_soon r3 10.20.0.2 || fail "r3 (h3) does not reach r2 (h2) on red"
pings_soon b1 10.20.0.2 || fail "b1 (h1) does not reach b2 (h2) on blue"
# 10.20.0.2 answered b1 from blue: the answer came from b2's MAC, not r2's.
expect "b1's neighbour 10.20.0.2 is b2" "$MAC_B2" \
	"$(ip -n "$P-b1" -j neigh show 10.20.0.2 | jq -r '.[0].lladdr')"
if pings b1 10.20.0.1 || pings b1 10.20.0.3; then fail "b1 (blue) reaches a guest of red"; fi
if pings r1 10.20.0.11; then fail "r1 (red) reaches b1 of blue on its own host"; fi

# ---- drift ----------------------------------------------------------------------------------
log "drift: changes by hand are put back"
ip -n "$P-h1" link set tvx-100 mtu 1300
ip -n "$P-h1" link set tvx-200 nomaster
ip netns exec "$P-h1" bridge fdb del 00:00:00:00:00:00 dev tvx-100 dst 10.77.0.3
ip netns exec "$P-h1" bridge fdb replace $MAC_R2 dev tvx-100 dst 10.77.0.9
ip netns exec "$P-h1" bridge fdb append 00:00:00:00:00:00 dev tvx-100 dst 10.77.0.8
ip -n "$P-h1" link add tbr-777 type bridge
ip -n "$P-h1" link add tvx-777 type vxlan id 777 dstport 4789 local 10.77.0.1
apply 1 "$T/view1.json" >/dev/null
expect "h1's links after drift" "$expected_h1" "$(links 1)"
expect "h1's red entries after drift" "00:00:00:00:00:00 10.77.0.2
00:00:00:00:00:00 10.77.0.3
$MAC_R2 10.77.0.2
$MAC_R3 10.77.0.3" "$(fdb 1 tvx-100)"
operator_intact "after drift"
pings_soon r1 10.20.0.2 || fail "r1 does not reach r2 after drift"

# ---- move -----------------------------------------------------------------------------------
log "move: r3 migrates from h3 to h2"
PORTS2=("${PORTS[@]/r3-red-$(d $MAC_R3)-h3/r3-red-$(d $MAC_R3)-h2}")
view "${PORTS2[@]}" >"$T/view2.json"
ip -n "$P-h3" link del tr3
guest r3 2 tbr-100 $MAC_R3 10.20.0.3
apply_all "$T/view2.json"
expect "h3's links when its last port left" "" "$(links 3)"
expect "h1's red entries after the move" "00:00:00:00:00:00 10.77.0.2
$MAC_R2 10.77.0.2
$MAC_R3 10.77.0.2" "$(fdb 1 tvx-100)"
grep -q "fdb replace $MAC_R3 dst 10.77.0.3->10.77.0.2" "$T/apply-h1.out" ||
	fail "h1 did not replace r3's entry in place: $(cat "$T/apply-h1.out")"
expect "h2's red entries after the move" "00:00:00:00:00:00 10.77.0.1
$MAC_R1 10.77.0.1" "$(fdb 2 tvx-100)"
pings_soon r1 10.20.0.3 || fail "r1 does not reach r3 on its new host"

# ---- last -----------------------------------------------------------------------------------
log "last: h1's ports all deleted"
PORTS3=()
for p in "${PORTS2[@]}"; do [[ $p == *-h1 ]] || PORTS3+=("$p"); done
view "${PORTS3[@]}" >"$T/view3.json"
apply_all "$T/view3.json"
expect "h1's links without ports" "" "$(links 1)"
expect "h2's red entries without h1" "" "$(fdb 2 tvx-100)"
operator_intact "after the last port"
if [ $HAVE_VLAN = 1 ]; then
	ip -n "$P-h1" link show uplink.30 >/dev/null 2>&1 && fail "uplink.30 outlived its network's last port"
else
	log "vlan: SKIPPED (the kernel has no 802.1Q devices); vlan plans are covered by the golden cases only"
fi
# ---- refusals -------------------------------------------------------------------------------
log "refusals: a missing flat bridge, a name held by another device; the rest still plumbed"
ip -n "$P-h3" link add tbr-100 type veth peer name op-h3
view "r9-red-$(d 02:00:00:00:01:09)-h3" "b9-blue-$(d 02:00:00:00:02:09)-h3" "l9-lan-$(d 02:00:00:00:03:09)-h3" \
	"b8-blue-$(d 02:00:00:00:02:08)-h2" >"$T/view4.json"
if ip netns exec "$P-h3" "$NET_APPLY" "$T/view4.json" h3 >"$T/apply-h3.out" 2>"$T/apply-h3.err"; then
	fail "apply on h3 succeeded with tbr-100 a veth and no brlan"
fi
grep -q 'network red: tbr-100 is a device of kind "veth", not tide'"'"'s' "$T/apply-h3.err" ||
	fail "h3: no word of tbr-100: $(cat "$T/apply-h3.err")"
grep -q 'network lan: the bridge brlan does not exist' "$T/apply-h3.err" ||
	fail "h3: no word of brlan: $(cat "$T/apply-h3.err")"
expect "h3's links beside the refusals" "tbr-200 bridge - 1450 up
tvx-200 vxlan tbr-200 1450 up 200 10.77.0.3 4789 nolearning" "$(links 3)"
expect "h3's veth tbr-100 untouched" "veth" \
	"$(ip -n "$P-h3" -d -j link show tbr-100 | jq -r '.[0].linkinfo.info_kind')"
log "PASS"
