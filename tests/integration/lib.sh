# tests/integration/lib.sh: what tide's integration scripts share. Source it right after
# `set -euo pipefail`:
#
#   . "$(dirname "$0")/lib.sh"
#   it_init NAME [guest]    needs TIDED and TIDE; with "guest" also TIDE_GUEST_DIR (exit 77,
#                           skip, without a tiny guest) and sets G to it. Makes the temporary
#                           directory T (tided's state in STATE, its log in $T/tided.log),
#                           EMBED (the state's embedded libvirt), PORT (a free TCP port of
#                           127.0.0.1, from it_free_port), exports TIDE_SOCKET, and traps EXIT
#                           with it_cleanup.
#   it_free_port            a TCP port of 127.0.0.1 that is free now: the kernel picks it (bind to
#                           port 0), so two runs on one machine do not collide
#   it_start_tided [ARG...] starts tided on STATE listening on 127.0.0.1:PORT (or ARGs'
#                           --listen), waits until it answers; TIDED_PID is its pid
#   it_stop_tided           SIGTERM and wait (status of tided's exit)
#   it_image_tiny [NAME]    registers the tiny guest as an image (default name "tiny")
#   log MSG, fail MSG       to stderr; fail also shows tided's last log lines and exits 1
#   it_domains              the domains of this test's libvirt, defined or running, one name a
#                           line: the embedded driver's definitions (etc/qemu/NAME.xml) and the
#                           pid files of its running QEMUs (virsh cannot open the state's
#                           libvirt while tided holds it). Status 1, with a message, when the
#                           state has no libvirt root to look in (so an empty answer means
#                           "none", never "could not look").
#   it_qemu_pid NAME        the pid of the QEMU that runs instance NAME's domain in this test's
#                           libvirt (its pid file, the process alive), empty when none
#   it_seen_at NAME PATTERN TIMEOUT_S
#                           the host's time (epoch seconds with their fraction) at which a line
#                           matching PATTERN first shows in instance NAME's console file, read
#                           every 50 ms from the state directory (no client process per look:
#                           cheap enough to watch a guest being measured); status 1 after
#                           TIMEOUT_S. The guests' clocks are not the host's to the second.
#   it_no_domains WHAT      fails the test, naming WHAT, unless it_domains answers and is empty
#   IT_JQ_EPOCH             a jq definition to put before a filter: `epoch` turns tide's times
#                           ("2026-12-03T14:16:01.123Z") into epoch seconds with their fraction
#   it_wait SECONDS WHAT COMMAND...
#                           runs COMMAND every 0.5 s until it succeeds; fails the test with
#                           WHAT after SECONDS
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
	PORT=$(it_free_port)
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

IT_JQ_EPOCH='def epoch: capture("(?<s>.*)(?<f>\\.[0-9]+)Z$") | (.s + "Z" | fromdate) + (.f | tonumber);'

it_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

it_domains() {
	local root=$STATE/libvirt f pid
	if [ ! -d "$root/etc/qemu" ] || [ ! -d "$root/run/qemu" ]; then
		log "it_domains: no embedded libvirt in $root"
		return 1
	fi
	{
		for f in "$root"/etc/qemu/*.xml; do
			[ -e "$f" ] && basename "$f" .xml
		done
		for f in "$root"/run/qemu/*.pid; do
			[ -e "$f" ] && [ "${f##*/}" != driver.pid ] || continue
			pid=$(cat "$f" 2>/dev/null) || continue
			[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && basename "$f" .pid
		done
		true
	} | sort -u
}

it_qemu_pid() { # NAME
	local f=$STATE/libvirt/run/qemu/tide-$1.pid pid
	[ -e "$f" ] || return 0
	pid=$(cat "$f" 2>/dev/null) || return 0
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
	return 0
}

it_seen_at() { # NAME PATTERN TIMEOUT_S
	local id f end
	id=$("$TIDE" instance show "$1" -f json | jq -r .id) || return 1
	f=$STATE/instances/$id/console.log
	end=$(($(date +%s) + $3))
	while [ "$(date +%s)" -lt "$end" ]; do
		if [ -e "$f" ] && grep -q -- "$2" "$f"; then # (lines end in \r: no $ in PATTERN)
			date +%s.%N
			return 0
		fi
		sleep 0.05
	done
	log "'$2' not seen on $1's console within $3 s"
	return 1
}

it_no_domains() { # WHAT
	local d
	d=$(it_domains) || fail "$1: cannot list the domains"
	[ -z "$d" ] || fail "$1: $(echo $d)"
}

it_wait() { # SECONDS WHAT COMMAND...
	local s=$1 what=$2
	shift 2
	for _ in $(seq 1 $((s * 2))); do
		"$@" && return 0
		sleep 0.5
	done
	fail "$what: not within $s s"
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
