#!/usr/bin/env bash
# test-images.sh: the image store (no guest booted).
#
# A file readable by root only (mode 0600), imported from tided's host by path, lands in the
# store readable by nobody else, and so does the store's directory.
#
# Needs TIDED and TIDE (binaries), qemu-img. Exit: 0 pass, anything else fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_init images

others_bits() { # PATH -> fails the test when others may read, write or enter PATH
	local m
	m=$(stat -c %a "$1") || fail "cannot stat $1"
	[ $((8#$m & 8#007)) = 0 ] || fail "$1 is mode $m: others may use it"
}

it_start_tided
qemu-img create -q -f qcow2 "$T/secret.qcow2" 16M
chmod 0600 "$T/secret.qcow2"
"$TIDE" image create secret --disk "$T/secret.qcow2" >/dev/null
id=$("$TIDE" image show secret -f json | jq -r .id)
[ -n "$id" ] && [ "$id" != null ] || fail "image secret has no id"
[ -s "$STATE/images/$id/disk.qcow2" ] || fail "no copy of the disk in $STATE/images/$id"
for f in "$STATE/images" "$STATE/images/$id" "$STATE/images/$id/disk.qcow2"; do others_bits "$f"; done
log "PASS: a 0600 file imported by path is not readable by others"
