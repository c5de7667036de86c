#!/usr/bin/env bash
# Builds the Forgejo pinned in pin.env from its Go module, for the tests that
# run against a real Forgejo. The source and the binary go to a cache outside
# the repository, keyed by the version:
#   ${HERO_FORGEJO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hero-os-grid-deployer/forgejo}/<key>/
#     bin/forgejo   the binary (tags sqlite sqlite_unlock_notify, no bindata)
#     src/          the patched source: its templates/ and options/ are read at
#                   run time (STATIC_ROOT_PATH)
#     stamp         what was built, checked on every run
# A second run with the cache present only checks it. The binary's path is the
# last line on stdout; progress goes to stderr.
#
# Needs: Go >= 1.23 with the module proxy reachable, gcc (cgo, for SQLite).
# Forgejo needs git at run time.
#
# What is changed from upstream, so it builds from the Go module proxy alone
# (the proxy serves no module of Forgejo's own module host):
#   - the F3 mirroring command (`forgejo f3`, services/f3) is removed: its
#     library exists nowhere else;
#   - Forgejo's forks of small libraries are replaced by the upstream they
#     were forked from, at the versions Gitea used at the time: go-chi's
#     binding, cache, captcha and session, libravatar, reply, act (Gitea's);
#   - its forks of archiver and gliderlabs/ssh give way to the upstream
#     versions its go.mod already requires.
# None of these is on the path of the REST API the tests use (users, tokens,
# repositories, issues, OAuth2 applications).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC1091 # pin.env: plain KEY=value lines
. "$here/pin.env"

# A bare environment may lack HOME; bash's ~ falls back to the passwd entry, and Go needs HOME too.
export HOME="${HOME:-$(cd ~ && pwd)}"
cache_root=${HERO_FORGEJO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hero-os-grid-deployer/forgejo}
dir=$cache_root/$FORGEJO_CACHE_KEY
stamp="$FORGEJO_MODULE@$FORGEJO_MODULE_VERSION recipe $FORGEJO_RECIPE tags sqlite,sqlite_unlock_notify"
log=$cache_root/$FORGEJO_CACHE_KEY.build.log

say() { printf 'forgejo build: %s\n' "$*" >&2; }
fail() {
  printf 'forgejo build: FAILED: %s\n' "$1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    printf 'forgejo build: last lines of %s:\n' "$2" >&2
    tail -n 25 "$2" >&2
  fi
  exit 1
}

if [ -x "$dir/bin/forgejo" ] && [ -d "$dir/src/templates" ] &&
  [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ]; then
  say "cached: Forgejo $FORGEJO_VERSION in $dir"
  "$dir/bin/forgejo" --version >/dev/null 2>&1 ||
    fail "the cached binary does not run: remove $dir and run again"
  printf '%s\n' "$dir/bin/forgejo"
  exit 0
fi

command -v go >/dev/null 2>&1 ||
  fail "Go is missing: install Go >= 1.23 (with the Go module proxy reachable) and run again"
command -v gcc >/dev/null 2>&1 ||
  fail "gcc is missing: the SQLite driver needs cgo (apt-get install gcc)"
command -v git >/dev/null 2>&1 || say "warning: git is missing; Forgejo needs it at run time"

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=1
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
[ "$go_minor" -ge 23 ] 2>/dev/null || fail "Go $(go env GOVERSION) is too old: Forgejo needs Go >= 1.23"
proxy=$(go env GOPROXY)
case "$proxy" in
  off | "") fail "GOPROXY is '$proxy': the build downloads Forgejo and its dependencies from the Go module proxy" ;;
esac

mkdir -p "$cache_root"
work=$(mktemp -d "$cache_root/.build.XXXXXX")
# HERO_FORGEJO_KEEP_WORK=1 keeps a failed build's folder, to look into it.
trap '[ -n "${HERO_FORGEJO_KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
: >"$log"

say "downloading $FORGEJO_MODULE@$FORGEJO_MODULE_VERSION ($FORGEJO_VERSION) with go mod download"
(cd "$work" && go mod download -json "$FORGEJO_MODULE@$FORGEJO_MODULE_VERSION") >"$work/download.json" 2>>"$log" ||
  fail "could not download $FORGEJO_MODULE@$FORGEJO_MODULE_VERSION from $proxy" "$log"
module_dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$work/download.json")
module_sum=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p' "$work/download.json")
[ "$module_sum" = "$FORGEJO_MODULE_SUM" ] ||
  fail "the module's checksum is $module_sum, pin.env expects $FORGEJO_MODULE_SUM"
[ -d "$module_dir" ] || fail "go mod download named no directory" "$work/download.json"

say "copying the source to $work/src and patching it (no F3, upstream libraries for Forgejo's forks)"
cp -R "$module_dir" "$work/src"
chmod -R u+w "$work/src"
cd "$work/src"
rm -rf services/f3 cmd/forgejo/f3.go
sed -i '/CmdF3(ctx),/d' cmd/forgejo/forgejo.go
sed -i '/forgejo\.CmdF3(/d' cmd/main.go
if grep -rq --include='*.go' -e 'gof3' -e 'services/f3' cmd services models modules routers main.go; then
  fail "F3 is still referenced after removing it: the recipe does not fit this source"
fi
# Forgejo's forks of go-chi's libraries, libravatar and reply: import the
# upstream they were forked from instead (a replace would leave their
# subpackages importing the upstream path, a second copy). Its captcha fork
# has dchest/captcha's API, so that is the upstream there.
find . -name '*.go' -not -path './tests/*' -exec sed -i \
  -e 's#"code\.forgejo\.org/go-chi/captcha"#"github.com/dchest/captcha"#' \
  -e 's#"code\.forgejo\.org/go-chi/#"gitea.com/go-chi/#' \
  -e 's#"code\.forgejo\.org/forgejo-contrib/go-libravatar"#"strk.kbt.io/projects/go/libravatar"#' \
  -e 's#"code\.forgejo\.org/forgejo/reply"#"github.com/dimiro1/reply"#' {} +
go mod edit \
  -droprequire code.forgejo.org/f3/gof3/v3 \
  -droprequire code.forgejo.org/go-chi/binding \
  -droprequire code.forgejo.org/go-chi/cache \
  -droprequire code.forgejo.org/go-chi/captcha \
  -droprequire code.forgejo.org/go-chi/session \
  -droprequire code.forgejo.org/forgejo-contrib/go-libravatar \
  -droprequire code.forgejo.org/forgejo/reply \
  -require gitea.com/go-chi/binding@v0.0.0-20240430071103-39a851e106ed \
  -require gitea.com/go-chi/cache@v0.2.1 \
  -require github.com/dchest/captcha@v1.1.0 \
  -require gitea.com/go-chi/session@v0.0.0-20240316035857-16768d98ec96 \
  -require strk.kbt.io/projects/go/libravatar@v0.0.0-20191008002943-06d1c002b251 \
  -require github.com/dimiro1/reply@v0.0.0-20200315094148-d0136a4c9e21 \
  -replace github.com/nektos/act=gitea.com/gitea/act@v0.261.3 \
  -dropreplace github.com/mholt/archiver/v3 \
  -dropreplace github.com/gliderlabs/ssh
# Its gliderlabs/ssh fork adds Session.ConnPermissions; upstream's Permissions()
# serves the built-in SSH server, which the tests never start.
sed -i 's/session\.ConnPermissions()/session.Permissions()/' modules/ssh/ssh.go
if grep -rq --include='*.go' --exclude-dir=tests '"code\.forgejo\.org/' .; then
  fail "an import from Forgejo's module host is left: the recipe does not fit this source"
fi

say "building (cold, with empty Go caches: some 1 GB of modules and about 10 minutes on 2 cores; log: $log)"
started=$(date +%s)
ldflags="-s -w -X main.Version=$FORGEJO_VERSION -X main.ForgejoVersion=$FORGEJO_VERSION -X 'main.Tags=sqlite sqlite_unlock_notify'"
mkdir -p "$work/bin"
go build -trimpath -tags 'sqlite sqlite_unlock_notify' -ldflags "$ldflags" -o "$work/bin/forgejo" . >>"$log" 2>&1 ||
  fail "go build failed" "$log"
"$work/bin/forgejo" --version >>"$log" 2>&1 || fail "the new binary does not run" "$log"
say "built in $(($(date +%s) - started)) s: $("$work/bin/forgejo" --version)"

cd "$cache_root"
printf '%s\n' "$stamp" >"$work/stamp"
rm -rf "$work/download.json" "$dir"
chmod 755 "$work"
mv "$work" "$dir"
trap - EXIT
say "ready: $dir"
printf '%s\n' "$dir/bin/forgejo"
