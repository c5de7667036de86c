#!/usr/bin/env bash
# Step "services": upload the one Hero Proc service definition for the user's
# selection, apply it, start the selected services (restart those whose definition
# changed) and stop and remove the ones deselected since the last run.
# Closed first: hero_router (bound to loopback by its definition) starts before any other
# service, and its allowlist is made exactly HB_ROUTER_ALLOW (loopback) before any other
# service starts; hero_proxy starts on loopback (front-door opens it once it is locked).
# Parameters: HB_PROC_DEF_NAME, HB_PROC_DEF (JSON), HB_PROC_SERVICES (lines "name digest"),
# HB_ROUTER_PROC, HB_ROUTER_ALLOW (lines).
set -euo pipefail
hb_init

if ! hc_proc_ping >/dev/null 2>&1; then
    hb_run "hero_proc: starting the server" hc_proc_boot
    hc_proc_ping >/dev/null 2>&1 || hb_fail "hero_proc: the server does not answer after start"
fi

# Deselected: applied last time, absent now.
stopped=""
previous=$HB_STATE/applied/services.list
if [[ -f $previous ]]; then
    while read -r -u 3 name _; do
        [[ -n $name ]] || continue
        if ! grep -q "^$name " <<<"$HB_PROC_SERVICES"; then
            hb_run "$name: stopping (deselected)" hc_proc_stop "$name"
            hb_run "$name: removing from hero_proc" hc_proc_remove "$name"
            stopped+=" $name"
        fi
    done 3<"$previous"
fi

definition=$HB_CFG/hero_proc/$HB_PROC_DEF_NAME.json
def_note="definition unchanged"
if hb_changed proc-definition "$HB_PROC_DEF"; then
    hb_write "$definition" "$HB_PROC_DEF"
    hb_run "hero_proc: applying the service definition $HB_PROC_DEF_NAME ($(grep -c . <<<"$HB_PROC_SERVICES") services)" hc_proc_apply "$definition"
    hb_mark proc-definition "$HB_PROC_DEF"
    def_note="definition applied"
else
    hb_say "hero_proc: service definition $HB_PROC_DEF_NAME unchanged"
fi

started=""
restarted=""
running=0
# services_up NAME DIGEST: start NAME, or restart it when its definition changed.
services_up() {
    local name=$1 digest=$2 before
    before=$(grep "^$name " "$previous" 2>/dev/null || true)
    if ! hc_proc_running "$name"; then
        hb_run "$name: starting" hc_proc_start "$name"
        started+=" $name"
    elif [[ -n $before ]] && [[ $before != "$name $digest" ]]; then
        hb_run "$name: restarting (definition changed)" hc_proc_restart "$name"
        restarted+=" $name"
    else
        hb_say "$name: running"
        running=$((running + 1))
    fi
}

# 1. hero_router, alone.
router_line=$(grep "^$HB_ROUTER_PROC " <<<"$HB_PROC_SERVICES" || true)
[[ -n $router_line ]] || hb_fail "$HB_ROUTER_PROC is not in the service definition; nothing else is started without it"
read -r router_name router_digest <<<"$router_line"
services_up "$router_name" "$router_digest"

# 2. Its allowlist: exactly HB_ROUTER_ALLOW, before any other service starts.
allowed=$(hc_router_access_list 2>>"$HB_LOG") || hb_fail "$HB_ROUTER_PROC: cannot read the allowlist; no other service was started"
lock_note="allowlist kept"
while read -r -u 3 address; do
    [[ -n $address ]] || continue
    if ! grep -qxF -- "$address" <<<"$allowed"; then
        hb_run "$HB_ROUTER_PROC: allowing $address" hc_router_access_add "$address"
        lock_note="allowlist set"
    fi
done 3<<<"$HB_ROUTER_ALLOW"
while read -r -u 3 address; do
    [[ -n $address ]] || continue
    if ! grep -qxF -- "$address" <<<"$HB_ROUTER_ALLOW"; then
        hb_run "$HB_ROUTER_PROC: removing $address from the allowlist" hc_router_access_remove "$address"
        lock_note="allowlist set"
    fi
done 3<<<"$allowed"
allowed=$(hc_router_access_list 2>>"$HB_LOG") || hb_fail "$HB_ROUTER_PROC: cannot read the allowlist back; no other service was started"
if [[ "$(grep . <<<"$allowed" | sort)" != "$(grep . <<<"$HB_ROUTER_ALLOW" | sort)" ]]; then
    hb_fail "$HB_ROUTER_PROC: the allowlist is not $(tr '\n' ' ' <<<"$HB_ROUTER_ALLOW")after setting it; no other service was started"
fi

# 3. Everything else.
while read -r -u 3 name digest; do
    [[ -n $name && $name != "$HB_ROUTER_PROC" ]] || continue
    services_up "$name" "$digest"
done 3<<<"$HB_PROC_SERVICES"

hb_mark services.list "$HB_PROC_SERVICES"
hb_done "$HB_PROC_DEF_NAME $def_note; router $lock_note; started:${started:- none}; restarted:${restarted:- none}; stopped:${stopped:- none}; $running already running"
