#!/usr/bin/env bash
# Step "cockpit-settings": write the cockpit settings (Forge, feedback repo, empty
# slots for the user's own OpenRouter/Groq/SambaNova keys, the demo notice) and store
# the user's Forge token as a Hero Proc secret. The token arrives inside this script's
# stdin, reaches hero_proc on its stdin, and is never printed; only its SHA-256 is kept,
# so a re-run does not overwrite a token the user changed in the cockpit.
# Parameters: HB_COCKPIT_SETTINGS (JSON), HB_COCKPIT_PROC, HB_TOKEN_KEY, HB_FORGE_TOKEN (secret, may be empty).
set -euo pipefail
hb_init

settings=$HB_CFG/hero_cockpit/settings.json
summary="settings unchanged"
if hb_changed cockpit-settings "$HB_COCKPIT_SETTINGS"; then
    hb_write "$settings" "$HB_COCKPIT_SETTINGS"
    hb_say "hero_cockpit: settings written (feedback repo, BYO key slots, demo notice)"
    summary="settings written"
    if hc_proc_running "$HB_COCKPIT_PROC"; then
        hb_run "$HB_COCKPIT_PROC: restarting to read its settings" hc_proc_restart "$HB_COCKPIT_PROC"
    fi
    hb_mark cockpit-settings "$HB_COCKPIT_SETTINGS"
else
    hb_say "hero_cockpit: settings unchanged"
fi

if [[ -z $HB_FORGE_TOKEN ]]; then
    hb_say "no Forge token given: the user sets one in the cockpit"
    summary+="; no Forge token (the user sets one in the cockpit)"
else
    token_sum=$(printf '%s' "$HB_FORGE_TOKEN" | sha256sum | cut -d' ' -f1)
    if ! hb_changed forge-token.sha256 "$token_sum"; then
        hb_say "hero_proc: secret $HB_TOKEN_KEY unchanged"
        summary+="; Forge token unchanged"
    else
        hb_say "hero_proc: storing the Forge token as secret $HB_TOKEN_KEY"
        printf -- '--- storing secret %s\n' "$HB_TOKEN_KEY" >>"$HB_LOG"
        rc=0
        # The tool's own output goes through hb_redact too: it may echo what it was given.
        printf '%s' "$HB_FORGE_TOKEN" | hc_proc_secret_set "$HB_TOKEN_KEY" 2>&1 | hb_redact >>"$HB_LOG" || rc=$?
        ((rc == 0)) || hb_fail "hero_proc: storing secret $HB_TOKEN_KEY (exit $rc)"
        hb_mark forge-token.sha256 "$token_sum"
        summary+="; Forge token stored as $HB_TOKEN_KEY"
    fi
fi
unset HB_FORGE_TOKEN
hb_done "$summary"
