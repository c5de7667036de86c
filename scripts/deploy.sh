#!/usr/bin/env bash
# Deploys the users file against the configured stack: `npm run deploy [-- <pulumi up flags>]`.
# The state lives in a local file backend (./.pulumi-state) unless PULUMI_BACKEND_URL
# names another one (s3://…, https://api.pulumi.com, …). STACK picks the stack (default dev).
# The users file is checked first (npm run validate): a bad or empty one stops here.
set -euo pipefail
# The project directory: the working one when it holds a Pulumi.yaml (npm runs
# scripts from the repository's root), else this repository.
[[ -f Pulumi.yaml ]] || cd "$(dirname "$0")/.."

stack="${STACK:-dev}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
# The users file first, with no CLI and no credentials: every problem with its
# position, and what to do when it lists no user (a fresh clone's does not).
if ! node -r "${repo}/scripts/lib/ts-cache.js" "${repo}/scripts/validate.ts" --stack "$stack" --require-users; then
    echo "deploy: stopped before pulumi up; nothing was deployed" >&2
    exit 1
fi
if ! command -v pulumi >/dev/null 2>&1; then
    echo "deploy: the Pulumi CLI is not installed (see README, Install)" >&2
    exit 1
fi
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$PWD/.pulumi-state}"
if [[ $PULUMI_BACKEND_URL == file://* ]]; then
    mkdir -p "${PULUMI_BACKEND_URL#file://}"
    if [[ -z ${PULUMI_CONFIG_PASSPHRASE:-} && -z ${PULUMI_CONFIG_PASSPHRASE_FILE:-} ]]; then
        echo "deploy: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE; it encrypts the stack's secrets in the local backend" >&2
        exit 1
    fi
fi
echo "deploy: stack ${stack}, backend ${PULUMI_BACKEND_URL}"
pulumi stack select "$stack" --create
if ! pulumi config get forgeToken --stack "$stack" >/dev/null 2>&1; then
    echo "deploy: stack ${stack} has no forgeToken; set the Forge admin token once, then deploy again:" >&2
    echo "  PULUMI_BACKEND_URL='${PULUMI_BACKEND_URL}' pulumi config set --secret forgeToken --stack ${stack}   # reads the token from stdin" >&2
    exit 1
fi
# VMs take minutes to provision; the CLI's default of 4 operations per CPU would
# leave most of a big first deploy waiting its turn (docs/figures.md).
export PULUMI_PARALLEL="${PULUMI_PARALLEL:-32}"
pulumi up --stack "$stack" "$@"
