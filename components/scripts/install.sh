#!/usr/bin/env bash
# Step "install": install `lab` if it is missing, then the binaries of the selected
# services with `lab`. `lab` comes from one release (HB_LAB_RELEASE) and runs only when
# its SHA-256 is HB_LAB_SHA256 (stack config labSha256). A binary already installed from
# the wanted channel is skipped, so a re-run downloads nothing. Each `lab build` has an
# overall time limit (HB_INSTALL_TIMEOUT).
# Parameters: HB_LAB_CHANNEL, HB_LAB_URL, HB_LAB_RELEASE, HB_LAB_SHA256, HB_CURL_PROTO,
# HB_DOWNLOAD_TIMEOUT, HB_INSTALL_TIMEOUT, HB_INSTALL (lines "service repo binary").
set -euo pipefail
hb_init

if [[ ! $HB_LAB_SHA256 =~ ^[0-9a-f]{64}$ ]]; then
    hb_fail "lab: no SHA-256 to check it against; set the stack config labSha256 to the checksum of lab-linux-amd64 in release $HB_LAB_RELEASE (nothing was downloaded or run)"
fi
lab=$HB_ROOT$HB_LAB_PATH
if [[ -x $lab ]] && [[ "$(hb_sha256 "$lab")" == "$HB_LAB_SHA256" ]]; then
    hb_say "lab is installed ($HB_LAB_RELEASE, SHA-256 $HB_LAB_SHA256)"
    lab_note="lab $HB_LAB_RELEASE present"
else
    hb_run "downloading lab ($HB_LAB_RELEASE) from $HB_LAB_URL" hb_download "$HB_LAB_URL" "$lab.new"
    got=$(hb_sha256 "$lab.new")
    if [[ $got != "$HB_LAB_SHA256" ]]; then
        rm -f "$lab.new"
        hb_fail "lab from $HB_LAB_URL has SHA-256 $got, not $HB_LAB_SHA256 (labSha256): it was deleted, not run. If release $HB_LAB_RELEASE was re-published, check where the new file comes from before setting labSha256 to its checksum"
    fi
    chmod 755 "$lab.new"
    mv "$lab.new" "$lab"
    lab_note="lab $HB_LAB_RELEASE downloaded and verified"
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
    hb_run_within "$HB_INSTALL_TIMEOUT" "$service: installing $repo ($HB_LAB_CHANNEL) with lab build --download --install" hc_lab_install "$repo" "$HB_LAB_CHANNEL"
    [[ -x $HB_BIN/$binary ]] || hb_fail "$service: lab installed $repo but $HB_BIN/$binary is missing"
    printf '%s\n' "$HB_LAB_CHANNEL" >"$marker"
    installed+=" $repo"
done 3<<<"$HB_INSTALL"
hb_done "$lab_note; installed:${installed:- none}; $present already installed"
