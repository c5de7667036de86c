#!/usr/bin/env bash
# npm run engine: builds the real Pulumi CLI the whole-run tests drive, from its
# Go module, into a cache outside the repository keyed by its version. A second
# run with the cache present downloads nothing and takes a second.
#
# What it builds (docs/testing.md, "The real engine"):
#   pulumi                         github.com/pulumi/pulumi/pkg/v3 ./cmd/pulumi, at the
#                                  version package.json pins for @pulumi/pulumi
#   pulumi-resource-pulumi-nodejs  the dynamic-provider launcher, copied from the
#                                  github.com/pulumi/pulumi/sdk/v3 module of that version
# What it cannot build, because the Go module proxy refuses their modules:
# pulumi-language-nodejs (test/engine/langhost.js stands in) and the command, tls
# and random plugins (test/engine/plugins.ts stands in). Each says so in its version.
#
# Prints the bin directory as its last line on stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { printf 'engine: %s\n' "$*" >&2; }
die() { printf 'engine: %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/engine/env.sh
source scripts/engine/env.sh

sdk_version=$(node -p 'require("./package.json").dependencies["@pulumi/pulumi"]')
[[ $sdk_version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "package.json must pin @pulumi/pulumi to an exact version (it says '$sdk_version')"
version="v$sdk_version"
bin="$HERO_ENGINE_CACHE/pulumi-$version/bin"

if [[ -x $bin/pulumi && -x $bin/pulumi-resource-pulumi-nodejs ]]; then
    say "cached: pulumi $("$bin/pulumi" version) in $bin"
    echo "$bin"
    exit 0
fi

command -v go >/dev/null 2>&1 || die "Go is not on PATH; install Go >= 1.25.11 (on our machines: /usr/local/go/bin) and run npm run engine again"
[[ $(go env GOPROXY) != off ]] || die "GOPROXY is off; the engine is built from the Go module proxy"
mkdir -p "$HERO_ENGINE_CACHE"
work=$(mktemp -d "$HERO_ENGINE_CACHE/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init hero-os-grid-deployer/engine >/dev/null 2>&1
say "asking the Go module proxy ($(go env GOPROXY)) for github.com/pulumi/pulumi/pkg/v3@$version"
if ! go mod download "github.com/pulumi/pulumi/pkg/v3@$version" "github.com/pulumi/pulumi/sdk/v3@$version" 2>"$work/proxy.err"; then
    cat "$work/proxy.err" >&2
    die "the Go module proxy did not serve pulumi $version (above); check GOPROXY and the network, then run npm run engine again"
fi
# pkg/v3's go.mod replaces sdk/v3 by ../sdk (required here at the same version
# instead) and github.com/atotto/clipboard by a fork, which is repeated here.
go mod edit -replace github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
say "resolving the CLI's modules (a cold module cache downloads about 1 GB)"
go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$version" "github.com/pulumi/pulumi/sdk/v3@$version" 2>"$work/get.err" ||
    { cat "$work/get.err" >&2; die "resolving the CLI's modules failed (above)"; }
say "building pulumi $version (cold: about 4 minutes of 2 cores, most of it compiling)"
mkdir -p "$work/bin"
CGO_ENABLED=0 go build -trimpath \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
    -o "$work/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
say "copying pulumi-resource-pulumi-nodejs from github.com/pulumi/pulumi/sdk/v3@$version"
sdk_dir=$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
install -m 755 "$sdk_dir/nodejs/dist/pulumi-resource-pulumi-nodejs" "$work/bin/"
[[ $("$work/bin/pulumi" version) == "$version" ]] || die "the built CLI reports $("$work/bin/pulumi" version), not $version"
mkdir -p "$(dirname "$bin")"
rm -rf "$bin"
mv "$work/bin" "$bin"
say "built: pulumi $version in $bin"
echo "$bin"
