#!/usr/bin/env bash
# Step "health": every enabled service must answer through hero_router on the VM, and
# the front door must be locked and alive: the cockpit, asked without a session through
# the public gateway URL, is refused or sent to this environment's Forge login, and the
# Forge answers there. Polls until HB_HEALTH_TIMEOUT; on failure names each service that
# is down (with its last log lines), or what is wrong with the door.
# Parameters: HB_ROUTER_URL, HB_GATEWAY_URL, HB_HEALTH_TIMEOUT, HB_HEALTH (lines
# "service procname path"), HB_COCKPIT_PATH, HB_AUTHORIZE_URL, HB_CLIENT_ID,
# HB_REDIRECT_URI.
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

# The front door: an unauthenticated request for the cockpit must be refused (401/403) or
# sent (after hero_proxy's own /login hop, if any) to this environment's Forge login; and
# the Forge must answer there. A 200 is a door open to anyone.
origin=$([[ $HB_GATEWAY_URL =~ ^(https?://[^/]+) ]] && printf '%s' "${BASH_REMATCH[1]}")
cockpit=$origin$HB_COCKPIT_PATH

# url_decode TEXT: %XX and + decoded.
url_decode() {
    local v=${1//+/ }
    printf '%b' "${v//%/\\x}"
}

# query_param NAME URL: the decoded value of NAME in URL's query; exit 1 when absent.
query_param() {
    local query=${2#*\?} kv
    local -a pairs
    [[ $2 == *\?* ]] || return 1
    IFS='&' read -r -a pairs <<<"${query%%#*}"
    for kv in "${pairs[@]}"; do
        if [[ ${kv%%=*} == "$1" ]]; then
            url_decode "${kv#*=}"
            return 0
        fi
    done
    return 1
}

# door_check: sets door (locked|open|elsewhere|down), door_note, and login_url (where the Forge must answer).
door_check() {
    local url=$cockpit out code location client redirect
    login_url=$HB_AUTHORIZE_URL
    for _ in 1 2 3 4; do
        out=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code} %{redirect_url}' "$url" 2>>"$HB_LOG" || true)
        read -r code location <<<"$out"
        code=${code:-000}
        if ((code >= 200 && code < 300)); then
            door=open
            door_note="the front door is open without login: $url answered HTTP $code to a request with no session"
            return
        elif ((code == 401 || code == 403)); then
            door=locked
            door_note="refuses without login (HTTP $code)"
            return
        elif ((code >= 300 && code < 400)) && [[ -n $location ]]; then
            if [[ $location == "$HB_AUTHORIZE_URL?"* ]]; then
                client=$(query_param client_id "$location" || true)
                redirect=$(query_param redirect_uri "$location" || true)
                login_url=$location
                if [[ $client != "$HB_CLIENT_ID" ]]; then
                    door=elsewhere
                    door_note="the front door sends to the Forge login of another application: client_id ${client:-(none)}, not this environment's $HB_CLIENT_ID"
                elif [[ $redirect != "$HB_REDIRECT_URI" ]]; then
                    door=elsewhere
                    door_note="the front door's Forge login returns to ${redirect:-(no redirect_uri)}, not $HB_REDIRECT_URI"
                else
                    door=locked
                    door_note="sends to its Forge login"
                fi
                return
            elif [[ $location == "$origin"/* ]]; then
                url=$location
                continue
            fi
            door=elsewhere
            door_note="the front door does not send to this environment's Forge login: $url redirects to $location"
            return
        fi
        door=down
        door_note="the gateway does not answer at $url (last HTTP status $code)"
        return
    done
    door=elsewhere
    door_note="the front door redirects more than 4 times without reaching the Forge login ($url)"
}

forge_code=000
while :; do
    door_check
    if [[ $door == locked ]]; then
        forge_code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$login_url" 2>>"$HB_LOG" || true)
        forge_code=${forge_code:-000}
        # Its login page (2xx), or a redirect to it (3xx: Forgejo's 303 without a session); 4xx: no login served there.
        ((forge_code >= 200 && forge_code < 400)) && break
    fi
    ((SECONDS < deadline)) || break
    sleep 3
done
[[ $door == locked ]] || hb_fail "$door_note"
((forge_code >= 200 && forge_code < 400)) || hb_fail "the front door is locked but the Forge login at $HB_AUTHORIZE_URL does not answer (HTTP $forge_code)"
hb_done "$(grep -c . <<<"$HB_HEALTH") services up through $HB_ROUTER_URL; front door $origin: locked, $door_note; Forge answers (HTTP $forge_code)"
