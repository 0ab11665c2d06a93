# tests/integration/lib.sh: what tide's integration scripts share. Source it right after
# `set -euo pipefail`:
#
#   . "$(dirname "$0")/lib.sh"
#   it_init NAME [guest]    needs TIDED and TIDE; with "guest" also TIDE_GUEST_DIR (exit 77,
#                           skip, without a tiny guest) and sets G to it. Makes the temporary
#                           directory T (tided's state in STATE, its log in $T/tided.log),
#                           EMBED (the state's embedded libvirt), PORT (a free-looking TCP
#                           port), exports TIDE_SOCKET, and traps EXIT with it_cleanup.
#   it_start_tided [ARG...] starts tided on STATE listening on 127.0.0.1:PORT (or ARGs'
#                           --listen), waits until it answers; TIDED_PID is its pid
#   it_stop_tided           SIGTERM and wait (status of tided's exit)
#   it_image_tiny [NAME]    registers the tiny guest as an image (default name "tiny")
#   log MSG, fail MSG       to stderr; fail also shows tided's last log lines and exits 1
#   it_domains              the domains whose QEMU runs, one name a line (from the embedded
#                           driver's pid files: virsh cannot open the state's libvirt while
#                           tided holds it)
#   wait_console NAME PATTERN COUNT TIMEOUT_S
#                           until the instance's console has COUNT lines matching PATTERN
#                           (status 1 after TIMEOUT_S, with the console's last lines shown)
#
# it_cleanup stops tided, calls the function named by IT_CLEANUP_HOOK when set (for what the
# test started itself), powers off and undefines whatever the state's libvirt still holds, and
# removes T when the test passed (keeps and names it when not).

TIDED_PID=

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

fail() {
	log "FAIL: $*"
	if [ -s "${T:-}/tided.log" ]; then
		log "tided log (last 30 lines):"
		tail -n 30 "$T/tided.log" >&2 || true
	fi
	exit 1
}

it_init() { # NAME [guest]
	: "${TIDED:?TIDED must name the tided binary}" "${TIDE:?TIDE must name the tide binary}"
	if [ "${2:-}" = guest ]; then
		G=${TIDE_GUEST_DIR:-}
		if [ -z "$G" ] || [ ! -s "$G/tiny.qcow2" ]; then
			echo "SKIP: no tiny guest (set TIDE_GUEST_DIR to scripts/mkimage's output)"
			exit 77
		fi
		G=$(cd "$G" && pwd)
	fi
	T=$(mktemp -d "/tmp/tide-$1.XXXXXX")
	STATE=$T/state
	EMBED="qemu:///embed?root=$STATE/libvirt"
	PORT=$((20000 + RANDOM % 20000))
	export TIDE_SOCKET=$STATE/tided.sock
	export LIBVIRT_LOG_OUTPUTS="4:stderr" # virsh: errors only
	unset TIDE_URL TIDE_TOKEN
	trap it_cleanup EXIT
}

it_start_tided() { # [ARG...]
	local listen=(--listen "127.0.0.1:$PORT") a
	for a in "$@"; do [ "$a" = --listen ] && listen=(); done
	"$TIDED" --state-dir "$STATE" "${listen[@]}" "$@" >>"$T/tided.log" 2>&1 &
	TIDED_PID=$!
	for _ in $(seq 1 200); do
		if [ -S "$TIDE_SOCKET" ] && "$TIDE" host list -f json >/dev/null 2>&1; then return 0; fi
		kill -0 "$TIDED_PID" 2>/dev/null || fail "tided exited at start"
		sleep 0.1
	done
	fail "tided did not answer within 20 s"
}

it_stop_tided() {
	[ -n "$TIDED_PID" ] || return 0
	kill -TERM "$TIDED_PID" 2>/dev/null || true
	local rc=0
	wait "$TIDED_PID" || rc=$?
	TIDED_PID=
	return $rc
}

it_image_tiny() { # [NAME]
	"$TIDE" image create "${1:-tiny}" --disk "$G/tiny.qcow2" --kernel "$G/vmlinuz" --initrd "$G/initrd.img" \
		--cmdline "$(cat "$G/cmdline")" >/dev/null
}

it_domains() {
	local f pid
	for f in "$STATE"/libvirt/run/qemu/*.pid; do
		[ -e "$f" ] && [ "${f##*/}" != driver.pid ] || continue
		pid=$(cat "$f" 2>/dev/null) || continue
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && basename "$f" .pid
	done
	return 0
}

wait_console() { # NAME PATTERN COUNT TIMEOUT_S
	local n
	for _ in $(seq 1 $(($4 * 2))); do
		n=$("$TIDE" instance console "$1" 2>/dev/null | tr -d '\r' | grep -c -- "$2" || true)
		[ "$n" -ge "$3" ] && return 0
		sleep 0.5
	done
	log "'$2' x$3 not seen on $1's console within $4 s; its last lines:"
	"$TIDE" instance console "$1" 2>/dev/null | tr -d '\r' | tail -n 20 >&2 || true
	return 1
}

it_cleanup() {
	local rc=$?
	it_stop_tided || true
	[ -z "${IT_CLEANUP_HOOK:-}" ] || "$IT_CLEANUP_HOOK" || true
	# Power off whatever this test's libvirt root still runs, so no QEMU outlives the test.
	if [ -d "$STATE/libvirt" ]; then
		for d in $(virsh -q -c "$EMBED" list --all --name 2>/dev/null); do
			virsh -q -c "$EMBED" destroy "$d" >/dev/null 2>&1 || true
			virsh -q -c "$EMBED" undefine "$d" >/dev/null 2>&1 || true
		done
	fi
	if [ $rc -eq 0 ]; then rm -rf "$T"; else log "state kept in $T"; fi
}
