#!/usr/bin/env bash
# Step "ready": wait for the VM's init to finish, check the tools the other steps
# need, and print the OS, memory and disk in one line.
# Parameters: HB_READY_TIMEOUT (seconds).
set -euo pipefail
hb_init

# Init is done when cloud-init is absent or has written boot-finished.
ready_init_done() {
    [[ ! -d $HB_ROOT/var/lib/cloud ]] || [[ -f $HB_ROOT/var/lib/cloud/instance/boot-finished ]]
}

deadline=$((SECONDS + HB_READY_TIMEOUT))
if ! ready_init_done; then
    hb_say "waiting up to ${HB_READY_TIMEOUT}s for cloud-init to finish (boot-finished)"
    until ready_init_done; do
        if ((SECONDS >= deadline)); then
            hb_fail "the VM's init did not finish within ${HB_READY_TIMEOUT}s ($HB_ROOT/var/lib/cloud/instance/boot-finished is missing)" "$HB_ROOT/var/log/cloud-init-output.log"
        fi
        sleep 2
    done
fi

for tool in curl sha256sum tail sed grep timeout; do
    command -v "$tool" >/dev/null || hb_fail "the VM has no $tool"
done

os=$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$HB_ROOT/etc/os-release" 2>/dev/null || true)
mem_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' "$HB_ROOT/proc/meminfo" 2>/dev/null || true)
read -r disk_total disk_free < <(df -Pk "$HB_ROOT/" | awk 'NR == 2 { print $2, $4 }')
hb_done "$(printf '%s, memory %s MB, disk %s GB free of %s GB on /' \
    "${os:-$(uname -sr)}" "$((${mem_kb:-0} / 1024))" "$((disk_free / 1048576))" "$((disk_total / 1048576))")"
