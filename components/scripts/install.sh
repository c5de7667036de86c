#!/usr/bin/env bash
# Step "install": install `lab` if it is missing, then the binaries of the selected
# services with `lab`. A binary already installed from the wanted channel is skipped,
# so a re-run downloads nothing.
# Parameters: HB_LAB_CHANNEL, HB_LAB_URL, HB_INSTALL (lines "service repo binary").
set -euo pipefail
hb_init

lab=$HB_ROOT$HB_LAB_PATH
if [[ -x $lab ]] && [[ "$(cat "$HB_STATE/lab.channel" 2>/dev/null || true)" == "$HB_LAB_CHANNEL" ]]; then
    hb_say "lab is installed ($HB_LAB_CHANNEL)"
    lab_note="lab $HB_LAB_CHANNEL present"
else
    hb_run "downloading lab ($HB_LAB_CHANNEL)" hb_download "$HB_LAB_URL" "$lab"
    chmod 755 "$lab"
    printf '%s\n' "$HB_LAB_CHANNEL" >"$HB_STATE/lab.channel"
    lab_note="lab $HB_LAB_CHANNEL downloaded"
fi

mkdir -p "$HB_STATE/installed"
installed=""
present=0
while read -r -u 3 service repo binary; do
    [[ -n $service ]] || continue
    marker=$HB_STATE/installed/$repo
    if [[ -x $HB_BIN/$binary ]] && [[ "$(cat "$marker" 2>/dev/null || true)" == "$HB_LAB_CHANNEL" ]]; then
        hb_say "$service: $repo is installed ($HB_LAB_CHANNEL)"
        present=$((present + 1))
        continue
    fi
    hb_run "$service: installing $repo ($HB_LAB_CHANNEL)" hc_lab_install "$repo" "$HB_LAB_CHANNEL"
    [[ -x $HB_BIN/$binary ]] || hb_fail "$service: lab installed $repo but $HB_BIN/$binary is missing"
    printf '%s\n' "$HB_LAB_CHANNEL" >"$marker"
    installed+=" $repo"
done 3<<<"$HB_INSTALL"
hb_done "$lab_note; installed:${installed:- none}; $present already installed"
