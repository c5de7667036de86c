#!/usr/bin/env bash
# Step "front-door": give Hero Proxy its routes (the gateway URL lands on Hero Cockpit,
# one route per enabled service, Forge login with only this user allowed), and make
# hero_router's allowlist accept the proxy that forwards the gateway's traffic.
# Parameters: HB_GATEWAY_URL, HB_PROXY_ROUTES (JSON), HB_ROUTER_ALLOW (lines).
set -euo pipefail
hb_init

routes=$HB_CFG/hero_proxy/routes.json
count=$(grep -c '"path"' <<<"$HB_PROXY_ROUTES" || true)
summary="$count proxy routes for $HB_GATEWAY_URL unchanged"
if hb_changed proxy-routes "$HB_PROXY_ROUTES"; then
    hb_write "$routes" "$HB_PROXY_ROUTES"
    hb_run "hero_proxy: applying $count routes for $HB_GATEWAY_URL" hc_proxy_apply "$routes"
    summary="$count proxy routes applied for $HB_GATEWAY_URL"
    hb_mark proxy-routes "$HB_PROXY_ROUTES"
else
    hb_say "hero_proxy: routes for $HB_GATEWAY_URL unchanged"
fi

added=0
allowed=$(hc_router_access_list 2>>"$HB_LOG") || hb_fail "hero_router: cannot read the allowlist"
while read -r -u 3 address; do
    [[ -n $address ]] || continue
    if grep -qxF -- "$address" <<<"$allowed"; then
        hb_say "hero_router: $address is allowed"
    else
        hb_run "hero_router: allowing $address" hc_router_access_add "$address"
        added=$((added + 1))
    fi
done 3<<<"$HB_ROUTER_ALLOW"
hb_done "$summary; hero_router allowlist: $added added"
