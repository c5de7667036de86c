#!/usr/bin/env bash
# Step "host-key": print the VM's own ED25519 SSH host key as one line,
# "ssh-ed25519 <base64>". Its first run on a new VM is the pin (trust on first use).
# It waits for cloud-init, which may regenerate host keys at first boot. The later
# check is host-key-check.sh. Parameters: HB_ROOT (path prefix, "" on a VM),
# HB_READY_TIMEOUT (seconds). No secret is sent to it.
set -euo pipefail

root=${HB_ROOT:-}
key_file=$root/etc/ssh/ssh_host_ed25519_key.pub
deadline=$((SECONDS + ${HB_READY_TIMEOUT:-600}))
while [[ -d $root/var/lib/cloud ]] && [[ ! -f $root/var/lib/cloud/instance/boot-finished ]]; do
    if ((SECONDS >= deadline)); then
        printf 'host-key: FAILED: cloud-init did not finish within %ss (%s is missing)\n' "${HB_READY_TIMEOUT:-600}" "$root/var/lib/cloud/instance/boot-finished" >&2
        exit 1
    fi
    sleep 2
done
if [[ ! -s $key_file ]]; then
    printf 'host-key: FAILED: the VM has no ED25519 SSH host key (%s is missing or empty); the deployer pins that key\n' "$key_file" >&2
    exit 1
fi
read -r key_type key_blob _ <"$key_file"
printf '%s %s\n' "$key_type" "$key_blob"
