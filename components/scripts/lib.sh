#!/usr/bin/env bash
# Shared helpers of the bootstrap steps.
#
# The deployer ships one bundle per user to the VM (components/bundle.ts, copied by the
# `<username>-scripts` step): the Hero command forms (hc_* functions from
# components/hero-cli.ts), this file, and per step a function with its parameters
# (HB_* lines quoted by shellQuote) and a function with its script. Each step then
# sends `bash -s -- <step>` a few lines on stdin: HB_STEP, HB_ROOT, HB_DIGEST (and for
# cockpit-settings the Forge token, for front-door the login's secrets), then it sources
# the bundle and calls hb_main.
# Every path is "$HB_ROOT<real path>"; HB_ROOT is empty on a real VM.
set -euo pipefail

# hb_main: run step HB_STEP from this bundle, after checking that the bundle holds what
# the step was rendered with (the digest of its parameters and script).
hb_main() {
    : "${HB_STEP:?HB_STEP is not set}"
    local fn=${HB_STEP//-/_} have
    have=$(hb_digest "$HB_STEP")
    if [[ $have != "${HB_DIGEST:-}" ]]; then
        printf '%s: FAILED: the bootstrap bundle on the VM has digest %s for this step, not %s: it was not copied again; run pulumi up --replace on the scripts resource of this user\n' \
            "$HB_STEP" "${have:-none}" "${HB_DIGEST:-none}" >&2
        exit 1
    fi
    "hb_params_$fn"
    "hb_step_$fn"
}

# hb_init: derive the paths, create the state and log directories, set PATH.
hb_init() {
    : "${HB_STEP:?HB_STEP is not set}"
    HB_ROOT=${HB_ROOT:-}
    HB_STATE=$HB_ROOT$HB_STATE_DIR
    HB_CFG=$HB_ROOT$HB_CFG_DIR
    HB_BIN=$HB_ROOT$HB_BIN_DIR
    HB_LOG=$HB_ROOT$HB_LOG_DIR/$HB_STEP.log
    umask 077
    mkdir -p "$HB_STATE" "$HB_CFG" "$HB_BIN" "$HB_ROOT$HB_LOG_DIR"
    PATH=$HB_BIN:$(dirname "$HB_ROOT$HB_LAB_PATH"):$PATH
    export PATH
    printf -- '=== %s %s\n' "$HB_STEP" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$HB_LOG"
}

# hb_say MESSAGE: one line per action, into the step log only (stdout is kept in state).
hb_say() {
    printf '%s: %s\n' "$HB_STEP" "$*" >>"$HB_LOG"
}

# hb_done SUMMARY: the step's one line on stdout (Pulumi stores it in state), also logged.
hb_done() {
    printf '%s: %s\n' "$HB_STEP" "$*" | tee -a "$HB_LOG"
}

# hb_redact: copy stdin to stdout with the step's secrets masked (the Forge token, the
# login's client secret and session secret: whichever the step was given).
hb_redact() {
    local line secret
    while IFS= read -r line || [[ -n $line ]]; do
        for secret in "${HB_FORGE_TOKEN:-}" "${HB_CLIENT_SECRET:-}" "${HB_SESSION_SECRET:-}"; do
            if [[ -n $secret ]]; then
                line=${line//"$secret"/[redacted]}
            fi
        done
        printf '%s\n' "$line"
    done
}

# hb_tail FILE: the last lines of FILE, redacted and indented, on stderr.
hb_tail() {
    local file=$1
    if [[ -s $file ]]; then
        printf '%s: last lines of %s:\n' "$HB_STEP" "$file" >&2
        tail -n "${HB_TAIL_LINES:-20}" "$file" | hb_redact | sed 's/^/    | /' >&2
    fi
}

# hb_fail MESSAGE [LOG]: say what failed, show the log's last lines, exit 1.
hb_fail() {
    printf '%s: FAILED: %s\n' "$HB_STEP" "$1" >&2
    hb_tail "${2:-$HB_LOG}"
    exit 1
}

# hb_run DESCRIPTION COMMAND...: announce, run with output to the step log, fail clearly.
hb_run() {
    local what=$1
    shift
    hb_say "$what"
    printf -- '--- %s\n' "$what" >>"$HB_LOG"
    local rc=0
    "$@" </dev/null >>"$HB_LOG" 2>&1 || rc=$?
    if ((rc != 0)); then
        hb_fail "$what (exit $rc)"
    fi
}

# hb_changed NAME CONTENT: exit 0 when CONTENT differs from what was last marked applied.
hb_changed() {
    local mark=$HB_STATE/applied/$1
    [[ ! -f $mark ]] || [[ "$(cat "$mark")" != "$2" ]]
}

# hb_mark NAME CONTENT: record CONTENT as applied (after the change succeeded).
hb_mark() {
    mkdir -p "$HB_STATE/applied"
    printf '%s\n' "$2" >"$HB_STATE/applied/$1.tmp"
    mv "$HB_STATE/applied/$1.tmp" "$HB_STATE/applied/$1"
}

# hb_write FILE CONTENT: write a config file atomically.
hb_write() {
    mkdir -p "$(dirname "$1")"
    printf '%s\n' "$2" >"$1.tmp"
    mv "$1.tmp" "$1"
}

# hb_run_within SECONDS DESCRIPTION FUNCTION ARGS...: hb_run with an overall time limit
# (coreutils timeout signals the whole process group); on expiry, say what it waited for.
hb_run_within() {
    local limit=$1 what=$2 fn=$3
    shift 3
    hb_say "$what"
    printf -- '--- %s (time limit %ss)\n' "$what" "$limit" >>"$HB_LOG"
    export -f "${fn?}"
    local rc=0
    timeout --kill-after=10 "$limit" bash -c '"$@"' _ "$fn" "$@" </dev/null >>"$HB_LOG" 2>&1 || rc=$?
    if ((rc == 124 || rc == 137)); then
        hb_fail "$what: not finished within ${limit}s; stopped waiting for it"
    fi
    if ((rc != 0)); then
        hb_fail "$what (exit $rc)"
    fi
}

# hb_sha256 FILE: its SHA-256, lowercase hex.
hb_sha256() {
    sha256sum "$1" | cut -d' ' -f1
}

# hb_download URL DEST: fetch over HTTPS only (HB_CURL_PROTO), TLS 1.2 or newer, within
# HB_DOWNLOAD_TIMEOUT seconds, to a temporary file, then move into place.
hb_download() {
    mkdir -p "$(dirname "$2")"
    curl -fsSL --proto "${HB_CURL_PROTO:-=https}" --tlsv1.2 --max-time "${HB_DOWNLOAD_TIMEOUT:-600}" \
        --retry 3 --connect-timeout 20 -o "$2.part" "$1"
    mv "$2.part" "$2"
}

# hb_secret_set KEY VALUE_VAR MARK: store the value of variable VALUE_VAR as Hero Proc
# secret KEY, on hero_proc's stdin, unless its SHA-256 is the one last stored (MARK).
# Exit 0 when it stored it, 1 when unchanged; fails the step when hero_proc refuses.
hb_secret_set() {
    local key=$1 value=${!2} mark=$3 sum rc=0
    sum=$(printf '%s' "$value" | sha256sum | cut -d' ' -f1)
    if ! hb_changed "$mark" "$sum"; then
        hb_say "hero_proc: secret $key unchanged"
        return 1
    fi
    hb_say "hero_proc: storing secret $key"
    printf -- '--- storing secret %s\n' "$key" >>"$HB_LOG"
    # The tool's own output goes through hb_redact too: it may echo what it was given.
    printf '%s' "$value" | hc_proc_secret_set "$key" 2>&1 | hb_redact >>"$HB_LOG" || rc=$?
    ((rc == 0)) || hb_fail "hero_proc: storing secret $key (exit $rc)"
    hb_mark "$mark" "$sum"
}
