#!/usr/bin/env bash
# test-images.sh: the image store, on a tided with one simulated host (no guest booted).
#
# - A file readable by root only (mode 0600), imported from tided's host by path
#   (--from-host-path), lands in the store readable by nobody else, and so does the store.
# - `tide image create` over TCP (--url, --token: not the unix socket) uploads the files: the
#   record holds each file's size and sha256, equal to sha256sum's of the client's files, and
#   the copies are not readable by others.
# - Refused, with nothing left (no record, no file in the store): an upload over tided's size
#   limit (--image-max-mib), one that grows over it while streaming (chunked, no length
#   announced), a disk qemu-img does not take (vmdk; bytes that are not whole sectors), a taken
#   name.
# - Deleting an image that an instance uses is refused (409) naming the instance; once the
#   instance is gone, the image goes with its files.
#
# Needs TIDED and TIDE (binaries), qemu-img, curl, jq. Exit: 0 pass, anything else fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
it_init images
URL=http://127.0.0.1:$PORT

others_bits() { # PATH -> fails the test when others may read, write or enter PATH
	local m
	m=$(stat -c %a "$1") || fail "cannot stat $1"
	[ $((8#$m & 8#007)) = 0 ] || fail "$1 is mode $m: others may use it"
}
store_files() { find "$STATE/images" -mindepth 1 | sort; }
image_count() { "$TIDE" image list -f json | jq length; }
remote() { "$TIDE" --url "$URL" --token "$(cat "$STATE/admin.token")" "$@"; }
refused() { # WHAT EXPECTED-CODE COMMAND... -> the command fails with the code in its message
	local what=$1 code=$2
	shift 2
	if "$@" >"$T/out" 2>"$T/err"; then fail "$what was accepted: $(cat "$T/out")"; fi
	grep -q "($code)" "$T/err" || fail "$what: expected ($code), got: $(cat "$T/err")"
}

it_start_tided --sim-hosts 1 --image-max-mib 8

log "import by path of a 0600 file"
qemu-img create -q -f qcow2 "$T/secret.qcow2" 16M
chmod 0600 "$T/secret.qcow2"
"$TIDE" image create secret --disk "$T/secret.qcow2" --from-host-path >/dev/null
id=$("$TIDE" image show secret -f json | jq -r .id)
[ -n "$id" ] && [ "$id" != null ] || fail "image secret has no id"
[ -s "$STATE/images/$id/disk.qcow2" ] || fail "no copy of the disk in $STATE/images/$id"
for f in "$STATE/images" "$STATE/images/$id" "$STATE/images/$id/disk.qcow2"; do others_bits "$f"; done

log "upload over TCP"
qemu-img create -q -f qcow2 "$T/up.qcow2" 32M
head -c 100000 /dev/urandom >"$T/vmlinuz"
head -c 70000 /dev/urandom >"$T/initrd"
remote image create up --disk "$T/up.qcow2" --kernel "$T/vmlinuz" --initrd "$T/initrd" \
	--cmdline "console=ttyS0 quiet" -f json >"$T/up.json" || fail "upload over TCP failed"
uid=$(jq -r .id "$T/up.json")
[ "$(jq -r .format "$T/up.json")" = qcow2 ] || fail "uploaded image's format: $(cat "$T/up.json")"
[ "$(jq -r .cmdline "$T/up.json")" = "console=ttyS0 quiet" ] || fail "cmdline not kept: $(cat "$T/up.json")"
for pair in disk.qcow2:up.qcow2 vmlinuz:vmlinuz initrd.img:initrd; do
	name=${pair%%:*} src=$T/${pair#*:}
	want=$(sha256sum "$src" | cut -d' ' -f1)
	[ "$(jq -r --arg n "$name" '.files[$n].sha256' "$T/up.json")" = "$want" ] ||
		fail "$name: the record's sha256 is not the client file's: $(jq -c .files "$T/up.json")"
	[ "$(jq -r --arg n "$name" '.files[$n].size' "$T/up.json")" = "$(stat -c %s "$src")" ] ||
		fail "$name: the record's size is not the client file's"
	cmp -s "$src" "$STATE/images/$uid/$name" || fail "$name: the store's copy differs from the client's file"
	others_bits "$STATE/images/$uid/$name"
done
[ "$(jq -r '.hosts | length' "$T/up.json")" = 1 ] || fail "the record does not list the host holding it"
[ "$(image_count)" = 2 ] || fail "expected 2 images"

before=$(store_files)
log "refusals leave nothing"
truncate -s 9M "$T/big.raw"
refused "an upload over the limit" too_large remote image create big --disk "$T/big.raw"
tok=$(cat "$STATE/admin.token")
status=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $tok" -H "Transfer-Encoding: chunked" \
	-F name=big -F disk=@"$T/big.raw" "$URL/v1/images") && rc=0 || rc=$?
# The limit is seen mid-stream: tided closes the connection (curl: 52 or 56), or answers 413.
[ "$status" = 413 ] || [ "$rc" = 52 ] || [ "$rc" = 56 ] || fail "a chunked upload over the limit: status $status, curl $rc"
qemu-img create -q -f vmdk "$T/d.vmdk" 8M
refused "a vmdk disk" invalid remote image create vm --disk "$T/d.vmdk"
printf 'not a disk\n' >"$T/text"
refused "a text file as a disk" invalid remote image create txt --disk "$T/text"
refused "a taken name" exists remote image create up --disk "$T/up.qcow2"
refused "a taken name by path" exists "$TIDE" image create up --disk "$T/up.qcow2" --from-host-path
[ "$(image_count)" = 2 ] || fail "a refused upload left a record: $("$TIDE" image list -f json)"
[ "$(store_files)" = "$before" ] || fail "a refused upload left files: $(diff <(echo "$before") <(store_files))"

log "delete of an image in use"
"$TIDE" flavor create f1 --vcpus 1 --ram 128 --disk 1 >/dev/null
"$TIDE" instance create user1 --flavor f1 --image up --wait >/dev/null
refused "deleting an image in use" in_use "$TIDE" image delete up
grep -q "instance 'user1'" "$T/err" || fail "the refusal does not name the instance: $(cat "$T/err")"
[ -s "$STATE/images/$uid/disk.qcow2" ] || fail "a refused delete removed the image's files"
"$TIDE" instance delete user1 --wait >/dev/null
"$TIDE" image delete up >/dev/null
[ ! -e "$STATE/images/$uid" ] || fail "the deleted image's files are left"
log "PASS"
