#!/usr/bin/env bash
# it-images-cluster: images on every host of a dev cluster of 2 hosts (etcd store), with real
# tiny guests.
#  - Without shared storage (TIDE_DEVCLUSTER_SHARED=0): an image uploaded through h1 from the
#    CLI over TCP boots an instance on h2: h2 copies the files from h1 on first use, and its
#    copy's sha256 is the record's; the record then lists h2 among its holders. Two instances
#    of another image started on h2 at once copy it once. A copy whose file on h1 was changed
#    after the upload is refused (positive control of the check): the instance is in error,
#    the event names the checksum, and nothing of the image is left on h2. Deleting an image
#    in use, through h2, is refused naming the instance (on h2); once deleted, its copy on h2
#    goes too (the agent's sweep), and the copy of an image not deleted stays.
#  - With shared storage (--shared-dir): an image uploaded through h1 lives in the shared
#    directory, not in h1's state; an instance of it on h2 boots without a copy (no
#    image.copied event, nothing in h2's state), its files in the shared directory's
#    instances/.
# Skips (77) without the tiny guest or the etcd backend.
set -euo pipefail
. "$(dirname "$0")/cluster.sh"
dc_init images-cluster guest

image_id() { dc_tide "$1" image show "$2" -f json | jq -er .id; }
inst_field() { dc_tide "$1" instance show "$2" -f json | jq -er ".$3"; }
events_of() { # I TYPE -> the messages of the events of that type
	dc_tide "$1" event list --limit 1000 -f json | jq -r --arg t "$2" '.[] | select(.type == $t) | .message'
}
status_is() { [ "$(inst_field "$1" "$2" status)" = "$3" ]; }
upload_tiny() { # I NAME
	dc_tide "$1" image create "$2" --disk "$G/tiny.qcow2" --kernel "$G/vmlinuz" --initrd "$G/initrd.img" \
		--cmdline "$(cat "$G/cmdline")" >/dev/null || fail "uploading $2 through h$1"
}

# ---------------- without shared storage: copy on first use ----------------
export TIDE_DEVCLUSTER_SHARED=0
dc_up 2
dc_etcd || {
	echo "SKIP: tided has no etcd backend (the hosts would be separate pools)"
	exit 77
}
s1=$(dc_field 1 state_dir)
s2=$(dc_field 2 state_dir)
log "cluster up without shared storage ($s1, $s2)"
[[ $(dc_field 1 url) == http://10.77.* ]] || fail "h1's API is not on the cluster's network: $(dc_field 1 url)"

upload_tiny 1 tiny
id=$(image_id 1 tiny)
[ -s "$s1/images/$id/disk.qcow2" ] || fail "the uploaded image is not in h1's store"
[ ! -e "$s2/images/$id" ] || fail "h2 holds the image before any use"
dc_tide 1 flavor create small --vcpus 1 --ram 192 --disk 1 >/dev/null

log "an instance on h2 of an image uploaded through h1"
dc_tide 1 instance create vm2 --flavor small --image tiny --hint host=h2 --wait >/dev/null ||
	fail "vm2 did not start on h2: $(dc_tide 1 instance show vm2 -f json | jq -c '{status, error}')"
[ "$(dc_instance_host vm2 1)" = h2 ] || fail "vm2 does not run on h2"
dc_wait_heartbeats vm2 2 180 2 || fail "vm2 on h2 does not beat"
rec=$(dc_tide 1 image show tiny -f json)
for f in disk.qcow2 vmlinuz initrd.img; do
	[ -s "$s2/images/$id/$f" ] || fail "h2 has no copy of $f"
	[ "$(sha256sum <"$s2/images/$id/$f" | cut -d' ' -f1)" = "$(jq -r --arg f $f '.files[$f].sha256' <<<"$rec")" ] ||
		fail "h2's copy of $f is not the record's"
done
jq -e '.hosts | index("h1") and index("h2")' <<<"$rec" >/dev/null || fail "the record does not list h1 and h2: $rec"
[ "$(events_of 1 image.copied | grep -c "'tiny' copied to host 'h2'")" = 1 ] || fail "no single image.copied event for tiny"
[ -z "$(find "$s2/images" -maxdepth 1 -name '*.fetch')" ] || fail "a staging directory is left on h2"

log "console and stats of vm2 (on h2) through h1"
dc_wait_heartbeats vm2 2 60 1 || fail "vm2's console through h1 shows no heartbeats"
stats_have_samples() { dc_tide 1 instance stats vm2 -f json | jq -e '(.history | length) > 0' >/dev/null; }
dc_wait 30 "vm2's stats through h1" stats_have_samples
dc_tide 1 host stats h2 -f json | jq -e '.host == "h2" and (.history | length) > 0' >/dev/null ||
	fail "h2's stats through h1: $(dc_tide 1 host stats h2 -f json 2>&1 | head -c 300)"
# The same request forwarded once more is refused (no loops): as h2, h1 would forward it.
code=$(curl -s -o "$T/fwd" -w '%{http_code}' -H "Authorization: Bearer $(dc_field 1 token)" \
	-H "X-Tide-Forwarded: test" "$(dc_field 1 url)/v1/hosts/h2/stats")
[ "$code" = 404 ] || fail "a forwarded request for another host's stats: $code $(cat "$T/fwd")"

log "two first uses at once copy once"
upload_tiny 1 tinyb
for n in c1 c2; do dc_tide 1 instance create $n --flavor small --image tinyb --hint host=h2 >/dev/null & done
wait
for n in c1 c2; do dc_wait 180 "$n running" status_is 1 $n running; done
[ "$(events_of 1 image.copied | grep -c "'tinyb' copied")" = 1 ] ||
	fail "tinyb was copied $(events_of 1 image.copied | grep -c "'tinyb' copied") times"
for n in c1 c2; do dc_tide 1 instance delete $n --wait >/dev/null; done

log "a copy that does not match the record is refused"
qemu-img create -q -f qcow2 "$T/small.qcow2" 64M
dc_tide 1 image create bad --disk "$T/small.qcow2" >/dev/null
bid=$(image_id 1 bad)
# The file on h1 changes after its sha256 was recorded (a disk gone bad, a tampered copy).
printf 'X' | dd of="$s1/images/$bid/disk.qcow2" bs=1 seek=70000 conv=notrunc status=none
dc_tide 1 instance create vbad --flavor small --image bad --hint host=h2 >/dev/null
dc_wait 60 "vbad in error" status_is 1 vbad error
events_of 1 image.copy_failed | grep -q "'bad'.*sha256" ||
	fail "no image.copy_failed naming the checksum: $(events_of 1 image.copy_failed)"
[ ! -e "$s2/images/$bid" ] && [ ! -e "$s2/images/$bid.fetch" ] || fail "h2 kept a copy of the bad image"
dc_tide 1 instance delete vbad --wait >/dev/null

log "delete of an image in use, through the other host"
if dc_tide 2 image delete tiny 2>"$T/err"; then fail "deleting tiny (in use by vm2) was accepted"; fi
grep -q "in use\|used by instance 'vm2'" "$T/err" && grep -q "(in_use)" "$T/err" ||
	fail "the refusal does not name vm2: $(cat "$T/err")"
dc_tide 1 instance delete vm2 --wait >/dev/null

log "a deleted image's copies go from every host"
dc_tide 1 image delete tiny >/dev/null || fail "deleting tiny once unused"
[ ! -e "$s1/images/$id" ] || fail "h1's copy of the deleted image is left"
gone() { [ ! -e "$s2/images/$id" ]; }
dc_wait 150 "h2's copy of the deleted image removed" gone
[ -s "$s2/images/$(image_id 1 tinyb)/disk.qcow2" ] || fail "h2's copy of tinyb (not deleted) was removed"
dc_down_checked

# ---------------- with shared storage ----------------
export TIDE_DEVCLUSTER_SHARED=1
dc_up 2
s1=$(dc_field 1 state_dir)
s2=$(dc_field 2 state_dir)
shared=$(dc_field 1 shared_dir)
log "cluster up with shared storage $shared"
upload_tiny 1 tiny
id=$(image_id 1 tiny)
[ -s "$shared/images/$id/disk.qcow2" ] || fail "the image is not in the shared directory"
[ ! -e "$s1/images/$id" ] || fail "the image is in h1's state with shared storage"
dc_tide 1 flavor create small --vcpus 1 --ram 192 --disk 1 >/dev/null
dc_tide 1 instance create vs --flavor small --image tiny --hint host=h2 --wait >/dev/null ||
	fail "vs did not start on h2: $(dc_tide 1 instance show vs -f json | jq -c '{status, error}')"
dc_wait_heartbeats vs 2 180 2 || fail "vs on h2 does not beat"
vid=$(inst_field 1 vs id)
[ -s "$shared/instances/$vid/disk.qcow2" ] || fail "vs's disk is not in the shared directory's instances/"
[ ! -e "$s2/images/$id" ] || fail "h2 copied the image although it is on shared storage"
[ -z "$(events_of 1 image.copied)" ] || fail "an image was copied with shared storage: $(events_of 1 image.copied)"
dc_tide 1 instance delete vs --wait >/dev/null
[ ! -e "$shared/instances/$vid" ] || fail "vs's files are left in the shared directory"
dc_down_checked
log "PASS"
