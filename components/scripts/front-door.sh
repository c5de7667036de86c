#!/usr/bin/env bash
# Step "front-door": lock Hero Proxy's door, then open it. The login's client secret and
# session secret (on this step's stdin) go into Hero Proc's secrets on hero_proc's stdin;
# the proxy gets its config (the gateway URL lands on Hero Cockpit, one route per enabled
# service, the Forge login with only this user and the admins allowed); only then is it
# told to listen where the gateway reaches it. Before it changes any of that, it is sent
# back to loopback: a failure anywhere leaves the door shut, never open.
# Parameters: HB_GATEWAY_URL, HB_PROXY_ROUTES (JSON), HB_PROXY_LOCAL, HB_PROXY_LISTEN,
# HB_CLIENT_SECRET_KEY, HB_SESSION_SECRET_KEY; on stdin HB_CLIENT_SECRET, HB_SESSION_SECRET (secrets).
set -euo pipefail
hb_init

[[ -n ${HB_CLIENT_SECRET:-} ]] || hb_fail "no OAuth2 client secret was given: the Forge login cannot work; the proxy was left as it was"
[[ -n ${HB_SESSION_SECRET:-} ]] || hb_fail "no session secret was given; the proxy was left as it was"

closed=0
# door_close: back to loopback before anything changes (once per run).
door_close() {
    ((closed)) && return 0
    hb_run "hero_proxy: listening on $HB_PROXY_LOCAL only while its config changes" hc_proxy_listen "$HB_PROXY_LOCAL"
    rm -f "$HB_STATE/applied/proxy-listen"
    closed=1
}

summary=""
changed=0
stored=0
for pair in "HB_CLIENT_SECRET $HB_CLIENT_SECRET_KEY proxy-client-secret.sha256" "HB_SESSION_SECRET $HB_SESSION_SECRET_KEY proxy-session-secret.sha256"; do
    read -r var key mark <<<"$pair"
    sum=$(printf '%s' "${!var}" | sha256sum | cut -d' ' -f1)
    if hb_changed "$mark" "$sum"; then
        door_close
        hb_secret_set "$key" "$var" "$mark" || true
        changed=1
        stored=$((stored + 1))
    fi
done
((stored == 0)) || summary+="$stored login secrets stored; "

routes=$HB_CFG/hero_proxy/routes.json
count=$(grep -c '"path"' <<<"$HB_PROXY_ROUTES" || true)
if hb_changed proxy-routes "$HB_PROXY_ROUTES" || ((changed)); then
    door_close
    hb_write "$routes" "$HB_PROXY_ROUTES"
    hb_run "hero_proxy: applying $count routes and the Forge login for $HB_GATEWAY_URL" hc_proxy_apply "$routes"
    hb_mark proxy-routes "$HB_PROXY_ROUTES"
    summary+="$count routes and login applied for $HB_GATEWAY_URL; "
else
    hb_say "hero_proxy: routes and login for $HB_GATEWAY_URL unchanged"
    summary+="$count routes and login for $HB_GATEWAY_URL unchanged; "
fi

if hb_changed proxy-listen "$HB_PROXY_LISTEN"; then
    hb_run "hero_proxy: listening on $HB_PROXY_LISTEN (the door is locked)" hc_proxy_listen "$HB_PROXY_LISTEN"
    hb_mark proxy-listen "$HB_PROXY_LISTEN"
    summary+="open on $HB_PROXY_LISTEN"
else
    summary+="listening on $HB_PROXY_LISTEN"
fi
unset HB_CLIENT_SECRET HB_SESSION_SECRET
hb_done "$summary"
