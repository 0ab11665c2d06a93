# tests/integration/cluster.sh: what integration tests on the dev cluster (scripts/devcluster)
# share. Source it right after `set -euo pipefail`:
#
#   . "$(dirname "$0")/cluster.sh"
#   dc_init NAME [guest]    needs TIDED and TIDE; with "guest" also TIDE_GUEST_DIR (exit 77, skip,
#                           without a tiny guest) and sets G to it. Makes the temporary directory
#                           T, points TIDE_DEVCLUSTER_DIR at T/cluster (so the cluster is this
#                           test's own) and traps EXIT with dc_cleanup.
#   dc_up N                 scripts/devcluster up N; fails the test when it fails (a cluster
#                           already up on this machine included: it is never touched). Reads the
#                           hosts from `status --json`: DC_N, DC_STORE (etcd:... or sqlite:...).
#   dc_status               scripts/devcluster status --json (an array of hosts)
#   dc_field I FIELD        field FIELD of host hI in dc_status (url, token, netns, address,
#                           state_dir, libvirt_uri, tided_pid, libvirtd_pid, ...)
#   dc_tide I ARG...        the CLI against host hI's API (TIDE_URL and TIDE_TOKEN of hI)
#   dc_virsh I ARG...       virsh on host hI's libvirtd over TCP (its libvirt_uri); its stderr
#                           goes to T/virsh.log
#   dc_etcd                 status 0 when the cluster's tideds share the etcd store, 1 when each
#                           has its own SQLite store (tided without the etcd backend)
#   dc_wait SECONDS WHAT COMMAND...
#                           runs COMMAND every 0.5 s until it succeeds; fails the test with WHAT
#                           after SECONDS
#   dc_instance_host NAME [I]
#                           the host that runs instance NAME, as the API of hI (default h1)
#                           says, checked against that host's libvirtd (domain tide-NAME
#                           running there); status 1 when it runs nowhere
#   dc_domain_running I NAME
#                           whether hI's libvirtd runs the domain tide-NAME (a virsh error fails
#                           the test: it never counts as "not running")
#   dc_heartbeats NAME [I]  the guest's console heartbeat counters (TIDE-HEARTBEAT seq=N), one a
#                           line, through hI's API (default h1)
#   dc_wait_heartbeats NAME COUNT TIMEOUT_S [I]
#                           until NAME's console shows COUNT heartbeats (status 1 after TIMEOUT_S,
#                           with its last lines shown)
#   dc_pid_alive P          whether process P runs (a zombie does not)
#   dc_down_checked         scripts/devcluster down, then fails the test unless nothing of the
#                           cluster is left: no network namespace, no veth, no bridge, no mount
#                           under the cluster's directory, no process of the pids the cluster
#                           recorded (libvirtd, tided, etcd, QEMU), no directory
#   log MSG, fail MSG       to stderr; fail also names the hosts' logs and exits 1
#
# dc_cleanup (the EXIT trap) copies the hosts' logs into T, takes the cluster down when this test
# brought it up, and removes T when the test passed or was skipped (keeps and names it when not).

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

fail() {
	log "FAIL: $*"
	local f
	if [ -s "${T:-}/virsh.log" ]; then
		log "virsh's messages (last 10 lines):"
		tail -n 10 "$T/virsh.log" >&2 || true
	fi
	for f in "${TIDE_DEVCLUSTER_DIR:-/nonexistent}"/h*/tided.log; do
		[ -s "$f" ] || continue
		log "$f (last 15 lines):"
		tail -n 15 "$f" >&2 || true
	done
	exit 1
}

DC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/devcluster
DC_UP=false
DC_N=0
DC_STORE=

dc_init() { # NAME [guest]
	: "${TIDED:?TIDED must name the tided binary}" "${TIDE:?TIDE must name the tide binary}"
	[ "$(id -u)" -eq 0 ] || {
		echo "SKIP: the dev cluster needs root (namespaces, a bridge, mounts)"
		exit 77
	}
	if [ "${2:-}" = guest ]; then
		G=${TIDE_GUEST_DIR:-}
		if [ -z "$G" ] || [ ! -s "$G/tiny.qcow2" ]; then
			echo "SKIP: no tiny guest (set TIDE_GUEST_DIR to scripts/mkimage's output)"
			exit 77
		fi
		G=$(cd "$G" && pwd)
	fi
	T=$(mktemp -d "/tmp/tide-$1.XXXXXX")
	export TIDE_DEVCLUSTER_DIR=$T/cluster TIDED TIDE
	export LIBVIRT_LOG_OUTPUTS="4:stderr" # virsh: errors only
	unset TIDE_URL TIDE_TOKEN TIDE_SOCKET
	trap dc_cleanup EXIT
}

dc_up() { # N
	DC_UP=true
	"$DC" up "$1" >"$T/up.out" 2>&1 || {
		cat "$T/up.out" >&2
		fail "scripts/devcluster up $1"
	}
	DC_STATUS=$("$DC" status --json) || fail "devcluster status --json"
	DC_N=$(jq length <<<"$DC_STATUS") || fail "devcluster status --json: not JSON"
	[ "$DC_N" -eq "$1" ] || fail "devcluster status lists $DC_N hosts, not $1"
	DC_STORE=$(jq -r '.[0].store' <<<"$DC_STATUS")
}

dc_status() { "$DC" status --json; }

dc_field() { # I FIELD
	local v
	v=$(jq -er --arg n "h$1" --arg f "$2" '.[] | select(.name == $n) | .[$f] // empty' <<<"$DC_STATUS") ||
		fail "no field $2 for h$1 in devcluster status"
	echo "$v"
}

dc_tide() { # I ARG...
	local i=$1
	shift
	TIDE_URL=$(dc_field "$i" url) TIDE_TOKEN=$(dc_field "$i" token) "$TIDE" "$@"
}

dc_virsh() { # I ARG...
	local i=$1 uri
	shift
	uri=$(dc_field "$i" libvirt_uri)
	# The remote driver logs "End of file while reading data" when the connection closes: its
	# messages go to T/virsh.log, shown when the test fails.
	echo "== virsh -c $uri $*" >>"$T/virsh.log"
	virsh -q -c "$uri" "$@" 2>>"$T/virsh.log"
}

dc_etcd() { [[ $DC_STORE == etcd:* ]]; }

dc_wait() { # SECONDS WHAT COMMAND...
	local s=$1 what=$2
	shift 2
	for _ in $(seq 1 $((s * 2))); do
		"$@" && return 0
		sleep 0.5
	done
	fail "$what: not within $s s"
}

dc_domain_running() { # I NAME
	local out
	out=$(dc_virsh "$1" list --name) || fail "virsh list on h$1"
	grep -qx "tide-$2" <<<"$out"
}

dc_instance_host() { # NAME [I]
	local h
	h=$(dc_tide "${2:-1}" instance show "$1" -f json | jq -er '.host // empty') || return 1
	[[ $h =~ ^h([0-9]+)$ ]] || fail "instance $1 is on '$h', not a dev cluster host"
	dc_domain_running "${BASH_REMATCH[1]}" "$1" || return 1
	echo "$h"
}

dc_heartbeats() { # NAME [I]
	local out
	out=$(dc_tide "${2:-1}" instance console "$1") || return 1
	tr -d '\r' <<<"$out" | sed -n 's/.*TIDE-HEARTBEAT seq=\([0-9]*\).*/\1/p'
}

dc_wait_heartbeats() { # NAME COUNT TIMEOUT_S [I]
	local n
	for _ in $(seq 1 $(($3 * 2))); do
		n=$(dc_heartbeats "$1" "${4:-1}" 2>/dev/null | wc -l)
		[ "$n" -ge "$2" ] && return 0
		sleep 0.5
	done
	log "$2 heartbeats not seen on $1's console within $3 s; its last lines:"
	dc_tide "${4:-1}" instance console "$1" 2>&1 | tr -d '\r' | tail -n 15 >&2 || true
	return 1
}

dc_pid_alive() { # P
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# The pids the cluster recorded, read from its directory: tided, libvirtd, etcd and the QEMUs.
dc_recorded_pids() {
	local d=$TIDE_DEVCLUSTER_DIR f
	for f in "$d"/h*/tided.pid "$d"/h*/run-libvirt/libvirtd.pid "$d"/etcd/etcd.pid "$d"/h*/run-libvirt/qemu/*.pid; do
		[ -s "$f" ] && [ "${f##*/}" != driver.pid ] && head -n 1 "$f"
	done
	true
}

dc_down_checked() {
	local pids p i left=() netns=()
	pids=$(dc_recorded_pids)
	[ -n "$pids" ] || fail "down check: the cluster recorded no pids (nothing to check against)"
	for i in $(seq 1 "$DC_N"); do netns+=("$(dc_field "$i" netns)"); done
	"$DC" down >"$T/down.out" 2>&1 || {
		cat "$T/down.out" >&2
		fail "scripts/devcluster down"
	}
	DC_UP=false
	for p in $pids; do dc_pid_alive "$p" && left+=("process $p ($(cat "/proc/$p/comm" 2>/dev/null))"); done
	local ns
	ns=$(ip netns list) || fail "ip netns list"
	for i in "${netns[@]}"; do
		awk '{ print $1 }' <<<"$ns" | grep -qx "$i" && left+=("network namespace $i")
	done
	local links
	links=$(ip -o link show) || fail "ip link show"
	grep -qE ': (tidedc0|tdc0-h[0-9]+)[@:]' <<<"$links" && left+=("links: $(grep -oE ': (tidedc0|tdc0-h[0-9]+)[@:]' <<<"$links" | tr -d ':@ ' | tr '\n' ' ')")
	grep -qF " $TIDE_DEVCLUSTER_DIR/" /proc/self/mountinfo && left+=("mounts under $TIDE_DEVCLUSTER_DIR")
	[ ! -e "$TIDE_DEVCLUSTER_DIR" ] || left+=("directory $TIDE_DEVCLUSTER_DIR")
	[ ${#left[@]} -eq 0 ] || fail "devcluster down left: ${left[*]}"
}

dc_cleanup() {
	local rc=$? f
	if $DC_UP; then
		mkdir -p "$T/logs"
		for f in "$TIDE_DEVCLUSTER_DIR"/h*/*.log "$TIDE_DEVCLUSTER_DIR"/etcd/etcd.log; do
			[ -e "$f" ] || continue
			cp "$f" "$T/logs/$(basename "$(dirname "$f")")-${f##*/}" 2>/dev/null || true
		done
		"$DC" down >&2 || log "devcluster down failed: $TIDE_DEVCLUSTER_DIR kept"
	fi
	if [ $rc -eq 0 ] || [ $rc -eq 77 ]; then rm -rf "$T"; else log "logs kept in $T/logs"; fi
}
