#!/usr/bin/env bash
# test-metrics.sh: tided's measurements of a real guest, checked by promtool and scraped by a real
# Prometheus server (Debian's) over the token-protected TCP API.
#
# A guest runs the load generator on one vCPU; /metrics must pass `promtool check metrics`, show
# the guest's CPU use, and a Prometheus server scraping tided every second must be able to query
# it. The stats routes answer with history.
# Needs TIDED, TIDE, TIDE_GUEST_DIR. Exit: 0 pass, 77 skip (no guest, no prometheus), else fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
command -v prometheus >/dev/null && command -v promtool >/dev/null || { echo "SKIP: no prometheus"; exit 77; }
it_init metrics guest
PROM_PORT=$(it_free_port)
PROM_PID=
stop_prometheus() {
	[ -z "$PROM_PID" ] || { kill "$PROM_PID" 2>/dev/null || true; wait "$PROM_PID" 2>/dev/null || true; }
}
IT_CLEANUP_HOOK=stop_prometheus

# --address: how peers would reach this host (a documentation address; nothing is sent to it).
it_start_tided --address 192.0.2.10
"$TIDE" host list -f json | jq -e --arg url "http://192.0.2.10:$PORT" \
	'.[0].api_url == $url and .[0].libvirt_uri == null' >/dev/null ||
	fail "the host record does not carry its API's address (an embedded libvirt has none to migrate to)"
"$TIDE" flavor create m --vcpus 1 --ram 192 --disk 1 >/dev/null
it_image_tiny
printf '#!/bin/sh\ntide-load --cpu 100 --threads 1 --duration 120\n' >"$T/user-data"
"$TIDE" instance create busy --flavor m --image tiny --user-data "$T/user-data" --wait >/dev/null
wait_console busy 'TIDE-LOAD t=' 1 120 || fail "busy's load did not start"
busy_in_stats() { "$TIDE" instance stats busy -f json | jq -e '.current.cpu_cores > 0.3' >/dev/null; }
it_wait 15 "busy's load in tide's stats" busy_in_stats

TOKEN=$(cat "$STATE/admin.token")
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/metrics" >"$T/metrics.txt" ||
	fail "GET /metrics failed"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")" = 401 ] ||
	fail "/metrics answered without a token"
promtool check metrics <"$T/metrics.txt" || fail "promtool check metrics: $(promtool check metrics <"$T/metrics.txt" 2>&1 | head -5)"
cpu=$(awk '/^tide_vm_cpu_usage_cores\{.*name="busy"/ { print $2 }' "$T/metrics.txt")
log "busy uses $cpu cores"
awk -v c="$cpu" 'BEGIN { exit !(c > 0.3) }' || fail "busy's CPU use $cpu is not above 0.3 cores"
grep -q '^libvirt_domain_info_cpu_time_seconds_total{' "$T/metrics.txt" || fail "no libvirt_domain_info_cpu_time_seconds_total"

log "a Prometheus server scrapes tided"
printf '%s\n' "$TOKEN" >"$T/token"
cat >"$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tide
    authorization:
      credentials_file: $T/token
    static_configs:
      - targets: ['127.0.0.1:$PORT']
YML
promtool check config "$T/prometheus.yml" >/dev/null || fail "prometheus.yml is not valid"
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
	--web.listen-address="127.0.0.1:$PROM_PORT" >"$T/prometheus.log" 2>&1 &
PROM_PID=$!
q() { curl -s --get --data-urlencode "query=$1" "http://127.0.0.1:$PROM_PORT/api/v1/query"; }
for _ in $(seq 1 60); do
	v=$(q 'tide_vm_cpu_usage_cores{name="busy"}' 2>/dev/null | jq -r '.data.result[0].value[1] // empty' 2>/dev/null || true)
	[ -n "$v" ] && break
	sleep 1
done
[ -n "${v:-}" ] || fail "Prometheus has no tide_vm_cpu_usage_cores: $(q up) $(tail -n 5 "$T/prometheus.log")"
[ "$(q 'up{job="tide"}' | jq -r '.data.result[0].value[1]')" = 1 ] || fail "Prometheus says the target is down"
log "Prometheus sees busy at $v cores"

log "stats"
"$TIDE" instance stats busy -f json | jq -e '.history | length >= 2' >/dev/null || fail "no instance stats history"
"$TIDE" host stats "$("$TIDE" host list -f json | jq -r '.[0].name')" -f json | jq -e '.current.cpus >= 1' >/dev/null ||
	fail "no host stats"
"$TIDE" instance delete busy --wait >/dev/null
log "PASS"
