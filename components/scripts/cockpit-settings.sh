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
    if hb_secret_set "$HB_TOKEN_KEY" HB_FORGE_TOKEN forge-token.sha256; then
        summary+="; Forge token stored as $HB_TOKEN_KEY"
    else
        summary+="; Forge token unchanged"
    fi
fi
unset HB_FORGE_TOKEN
hb_done "$summary"
