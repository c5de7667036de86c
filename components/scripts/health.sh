#!/usr/bin/env bash
# Step "health": every enabled service must answer through hero_router on the VM, and
# the public gateway URL must answer. Polls until HB_HEALTH_TIMEOUT; on failure names
# each service that is down and shows its last log lines.
# Parameters: HB_ROUTER_URL, HB_GATEWAY_URL, HB_HEALTH_TIMEOUT, HB_HEALTH (lines "service procname path").
set -euo pipefail
hb_init

answers() {
    curl -fsS --max-time 10 -o /dev/null "$1" 2>>"$HB_LOG"
}

deadline=$((SECONDS + HB_HEALTH_TIMEOUT))
pending=$HB_HEALTH
hb_say "waiting up to ${HB_HEALTH_TIMEOUT}s for $(grep -c . <<<"$HB_HEALTH") services to answer through $HB_ROUTER_URL"
while :; do
    still=""
    while read -r -u 3 service name path; do
        [[ -n $service ]] || continue
        if answers "$HB_ROUTER_URL$path"; then
            hb_say "$service: up ($name)"
        else
            still+="$service $name $path"$'\n'
        fi
    done 3<<<"$pending"
    pending=$still
    if [[ -z $pending ]] || ((SECONDS >= deadline)); then
        break
    fi
    sleep 3
done

if [[ -n $pending ]]; then
    while read -r -u 3 service name path; do
        [[ -n $service ]] || continue
        printf '%s: FAILED: %s is down (%s did not answer at %s)\n' "$HB_STEP" "$service" "$name" "$HB_ROUTER_URL$path" >&2
        logs=$HB_STATE/health-$name.log
        hc_proc_logs "$name" </dev/null >"$logs" 2>&1 || true
        hb_tail "$logs"
    done 3<<<"$pending"
    exit 1
fi

# Any answer below 500 counts: a login redirect or 401 means the front door is there.
while :; do
    code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$HB_GATEWAY_URL" 2>>"$HB_LOG" || true)
    if ((code >= 200 && code < 500)) || ((SECONDS >= deadline)); then
        break
    fi
    sleep 3
done
((code >= 200 && code < 500)) || hb_fail "the gateway $HB_GATEWAY_URL does not answer (last HTTP status $code)"
hb_done "$(grep -c . <<<"$HB_HEALTH") services up through $HB_ROUTER_URL; gateway: $HB_GATEWAY_URL answers (HTTP $code)"
