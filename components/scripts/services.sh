#!/usr/bin/env bash
# Step "services": upload the one Hero Proc service definition for the user's
# selection, apply it, start the selected services (restart those whose definition
# changed) and stop and remove the ones deselected since the last run.
# Parameters: HB_PROC_DEF_NAME, HB_PROC_DEF (JSON), HB_PROC_SERVICES (lines "name digest").
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
while read -r -u 3 name digest; do
    [[ -n $name ]] || continue
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
done 3<<<"$HB_PROC_SERVICES"

hb_mark services.list "$HB_PROC_SERVICES"
hb_done "$HB_PROC_DEF_NAME $def_note; started:${started:- none}; restarted:${restarted:- none}; stopped:${stopped:- none}; $running already running"
