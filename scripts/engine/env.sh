# Sourced by the engine scripts: the offline settings (offline.env, the one place
# they are set) and the cache the engine is built into. Not executable on its own.
# shellcheck shell=bash
set -a
# shellcheck source=scripts/engine/offline.env
source "$(dirname "${BASH_SOURCE[0]}")/offline.env"
set +a
export HERO_ENGINE_CACHE="${HERO_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hero-os-grid-deployer/engine}"
