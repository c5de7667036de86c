#!/usr/bin/env bash
# Step "host-key-check": given the pin (HB_PINNED), print the VM's ED25519 SSH host key
# when it is still the pin; else fail with HB_MISMATCH, its "@SEEN@" replaced by the
# key's fingerprint. It does not wait for cloud-init: "host-key" did, before the pin.
# Parameters: HB_ROOT (path prefix, "" on a VM), HB_PINNED, HB_MISMATCH. No secret
# is sent to it. Kept short: it is sent, and so stored, on every run of the check.
set -euo pipefail
key_file=${HB_ROOT:-}/etc/ssh/ssh_host_ed25519_key.pub
key=
if [[ -s $key_file ]]; then
    read -r key_type key_blob _ <"$key_file"
    key="$key_type $key_blob"
fi
if [[ $key != "$HB_PINNED" ]]; then
    seen=$(ssh-keygen -lf "$key_file" 2>/dev/null | awk '{ print $2 }' || true)
    printf 'host-key: FAILED: %s\n' "${HB_MISMATCH//@SEEN@/${seen:-${key:-no ED25519 host key}}}" >&2
    exit 1
fi
printf '%s\n' "$key"
