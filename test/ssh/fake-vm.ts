/**
 * The fake VM: a throwaway root with stub `hero_proc`, `hero_proxy`, `hero_router` that
 * record their calls and keep their state in files, a stub `lab`, and local HTTP servers
 * standing in for the VM's network, on two addresses: loopback, and a second loopback
 * address standing for the VM's external (mycelium) address (Linux routes all of 127/8
 * to lo). On loopback: downloads (`lab`, the release blobs) and hero_router. On the
 * external address: hero_router only while it is bound there and the source passes its
 * allowlist, hero_proxy only once it was told to listen there (stand-ins.ts). The
 * gateway (on loopback) forwards to the proxy on the external address, as the grid's does.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { HERO_PATHS, HERO_SERVICES } from "../../components/hero-cli";
import type { StepEnv } from "../../components/render";
import { forwardTo, isRunning, listen, proxyAcceptsExternal, proxyAnswer, routerAcceptsExternal, routerBinding } from "./stand-ins";

export interface FakeVm {
    /** The throwaway root the scripts run under (HB_ROOT). */
    root: string;
    /** The VM's root home, `<root>/root`: what an sshd for this VM gives its sessions as HOME. */
    home: string;
    /** Stub state: running services, applied files, secrets received, fail patterns. */
    state: string;
    /** URL of the local server: hero_router stand-in and download host. */
    url: string;
    /** The VM's external (mycelium) address: a second loopback address. */
    external: string;
    /** hero_router and hero_proxy as a mycelium peer reaches them: on the external address. */
    externalRouterUrl: string;
    externalProxyUrl: string;
    /** hero_proxy on loopback (where it listens until the door is locked). */
    localProxyUrl: string;
    /** The gateway: forwards to hero_proxy on the external address (502 when it does not accept there). */
    gatewayUrl: string;
    /** Per `hero_proc service start|restart`, what was reachable at that moment (see the hero_proc stub). */
    starts(): { service: string; router: string; allow: string[]; proxy: string }[];
    /** What the Forge login page on the local server answers (a forgeUrl of `url`). */
    forge: { status: number };
    /** Bytes and requests the scripts downloaded (lab and release blobs). */
    downloads: { bytes: number; requests: string[] };
    /** Every recorded stub call, `name arg...`, in order. */
    calls(): string[];
    /** Calls that change something (no list/status/logs reads). */
    changes(): string[];
    /** Make stub calls matching a bash glob (against `name args`) fail. */
    failOn(...patterns: string[]): void;
    running(): string[];
    /** Env for render.ts pointing the scripts at this fake VM. */
    env(overrides?: Partial<StepEnv>): StepEnv;
    close(): Promise<void>;
}

/** Size of each fake release blob, so that download figures mean something. */
export const BLOB_BYTES = 256 * 1024;

const READ_CALL_RE = /^(hero_proc service (list|status|logs)|hero_router access list)\b/;

/** The part of every stub that records its call and honours the fail patterns. */
function stubPrelude(name: string, state: string): string {
    return `#!/usr/bin/env bash
set -euo pipefail
me=${name}
S=${state}
printf '%s\\n' "$me $*" >>"$S/calls"
if [[ -f $S/fail ]]; then
    while IFS= read -r -u 3 pat; do
        [[ -n $pat ]] || continue
        # shellcheck disable=SC2053
        if [[ "$me $*" == $pat ]]; then
            input=""
            if [[ "$me $*" == *"secret set"* ]]; then input=$(cat); fi
            echo "$me: error: simulated failure of '$me $*'\${input:+ (value \$input rejected)}" >&2
            exit 1
        fi
    done 3<"$S/fail"
fi
`;
}

function heroProcStub(state: string): string {
    return stubPrelude("hero_proc", state) + `mkdir -p "$S/running"
case "\${1:-} \${2:-}" in
"service list") ls "$S/running" ;;
"service status") if [[ -f $S/running/$3 ]]; then echo "$3 running"; else echo "$3 stopped"; fi ;;
"service start" | "service restart")
    # What a peer could reach at this moment: hero_router's bind (from the env it was
    # started with) and allowlist, and where hero_proxy listens.
    if [[ -f $S/started-hero_router.json ]] && [[ -f $S/running/hero_router ]]; then
        if grep -q '"HERO_MYCELIUM_IP": "127.0.0.1"' "$S/started-hero_router.json"; then router=loopback; else router=external; fi
    else
        router=down
    fi
    if [[ -f $S/running/hero_proxy ]]; then proxy=$(cat "$S/proxy-listen" 2>/dev/null || echo started); else proxy=down; fi
    printf '%s router=%s allow=%s proxy=%s\n' "$3" "$router" "$(paste -sd, "$S/access" 2>/dev/null || true)" "$proxy" >>"$S/starts"
    if [[ -f $S/proc-definition.json ]]; then cp "$S/proc-definition.json" "$S/started-$3.json"; fi
    touch "$S/running/$3" ;;
"service stop" | "service remove") rm -f "$S/running/$3" ;;
"service logs") echo "$3: started"; echo "$3: error: cannot bind socket" ;;
"action set") cp "$3" "$S/proc-definition.json" ;;
"secret set") umask 077; cat >"$S/secret-\${3//\\//_}" ;;
*) echo "hero_proc: unknown command $*" >&2; exit 2 ;;
esac
`;
}

function heroProxyStub(state: string): string {
    return stubPrelude("hero_proxy", state) + `case "\${1:-} \${2:-}" in
"routes set" | "listen set") [[ -f $S/running/hero_proxy ]] || { echo "hero_proxy: the server is not running" >&2; exit 1; } ;;&
"routes set") cp "$3" "$S/proxy-routes.json" ;;
"listen set") echo "$3" >"$S/proxy-listen" ;;
*) echo "hero_proxy: unknown command $*" >&2; exit 2 ;;
esac
`;
}

function heroRouterStub(state: string): string {
    return stubPrelude("hero_router", state) + `touch "$S/access"
case "\${1:-} \${2:-}" in
"access list") cat "$S/access" ;;
"access add") echo "$3" >>"$S/access" ;;
"access remove") grep -vxF -- "$3" "$S/access" >"$S/access.new" || true; mv "$S/access.new" "$S/access" ;;
*) echo "hero_router: unknown command $*" >&2; exit 2 ;;
esac
`;
}

function genericStub(name: string, state: string): string {
    return stubPrelude(name, state) + "exit 0\n";
}

/** The stub `lab`: `build REPO --download` fetches the repo's blob; `--install` puts recorder stubs of its binaries in the bin dir. */
function labStub(state: string, binDir: string, url: string): string {
    const cases = Object.values(HERO_SERVICES)
        .map((h) => `${h.repo}) bins="${[...new Set([h.primaryBinary, ...h.actions.map((a) => a.exec)])].join(" ")}" ;;`)
        .join("\n    ");
    return stubPrelude("lab", state) + `[[ \${1:-} == build ]] || { echo "lab: unknown command $*" >&2; exit 2; }
repo=$2
case $repo in
    ${cases}
    *) echo "lab: no such repo $repo" >&2; exit 3 ;;
esac
if [[ " $* " == *" --download "* ]]; then
    curl -fsS -o "$S/blob-$repo" "${url}/dl/$repo"
fi
if [[ " $* " == *" --install "* ]]; then
    for b in $bins; do
        if [[ ! -e ${binDir}/$b ]]; then
            sed "s/^me=lab$/me=$b/" "$S/generic-stub" >"${binDir}/$b"
            chmod 755 "${binDir}/$b"
        fi
    done
fi
`;
}

/** A throwaway root with stubs, and the local servers that stand in for downloads, hero_router, hero_proxy and the gateway. */
export async function createFakeVm(opts: { external?: string } = {}): Promise<FakeVm> {
    const external = opts.external ?? "127.0.0.2";
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "hb-vm-"));
    const root = path.join(base, "root");
    const state = path.join(base, "stub-state");
    const binDir = path.join(root, HERO_PATHS.binDir);
    fs.mkdirSync(binDir, { recursive: true });
    fs.mkdirSync(path.join(state, "running"), { recursive: true });
    fs.mkdirSync(path.join(root, "etc"), { recursive: true });
    fs.mkdirSync(path.join(root, "proc"), { recursive: true });
    fs.mkdirSync(path.join(root, "root"), { recursive: true });
    fs.writeFileSync(path.join(root, "etc/os-release"), 'NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 24.04 LTS (fake)"\n');
    fs.writeFileSync(path.join(root, "proc/meminfo"), "MemTotal:        8148000 kB\nMemFree:         7000000 kB\n");
    fs.writeFileSync(path.join(state, "calls"), "");
    const write = (file: string, text: string) => fs.writeFileSync(file, text, { mode: 0o755 });
    write(path.join(binDir, "hero_proc"), heroProcStub(state));
    write(path.join(binDir, "hero_proxy"), heroProxyStub(state));
    write(path.join(binDir, "hero_router"), heroRouterStub(state));
    write(path.join(state, "generic-stub"), genericStub("lab", state));

    const downloads = { bytes: 0, requests: [] as string[] };
    const forge = { status: 200 };
    let labText = "";
    const blob = Buffer.alloc(BLOB_BYTES, 0x5a);
    const send = (res: http.ServerResponse, status: number, body: string | Buffer) => {
        res.writeHead(status, { "content-length": String(Buffer.byteLength(body)) });
        res.end(body);
    };
    // hero_router: answers for itself, and for each service the stub hero_proc runs.
    const router: http.RequestListener = (req, res) => {
        const url = req.url ?? "/";
        if (routerBinding(state) === "down") return send(res, 502, "down");
        if (url === "/.well-known/heroservice.json") return send(res, 200, '{"name":"hero_router"}');
        const m = /^\/([a-z_]+)\/(rpc|web)\//.exec(url);
        if (m) return m[1] === "hero_proc" || isRunning(state, m[1]) ? send(res, 200, "ok") : send(res, 502, "down");
        send(res, 404, "not found");
    };
    const local = await listen("127.0.0.1", (req, res) => {
        const url = req.url ?? "/";
        if (url.startsWith("/lab/")) {
            downloads.bytes += Buffer.byteLength(labText);
            downloads.requests.push(url);
            return send(res, 200, labText);
        }
        if (url.startsWith("/dl/")) {
            downloads.bytes += blob.length;
            downloads.requests.push(url);
            return send(res, 200, blob);
        }
        // The Forge's login page, for a forgeUrl pointed here.
        if (url.startsWith("/login/oauth/authorize")) return send(res, forge.status, forge.status < 500 ? "fake Forge: sign in" : "fake Forge: down");
        router(req, res);
    });
    const url = local.url;
    labText = labStub(state, binDir, url);
    const routerExt = await listen(external, router, (socket) => routerAcceptsExternal(state, socket.remoteAddress ?? ""));
    const proxyLocal = await listen("127.0.0.1", (req, res) => proxyAnswer(state, req, res), () => isRunning(state, "hero_proxy"));
    const proxyExt = await listen(external, (req, res) => proxyAnswer(state, req, res), () => proxyAcceptsExternal(state));
    const gateway = await listen("127.0.0.1", forwardTo(() => ({ host: external, port: proxyExt.port })));
    const servers = [local, routerExt, proxyLocal, proxyExt, gateway].map((s) => s.server);

    const calls = () => fs.readFileSync(path.join(state, "calls"), "utf8").split("\n").filter(Boolean);
    return {
        root,
        home: path.join(root, "root"),
        state,
        url,
        external,
        externalRouterUrl: routerExt.url,
        externalProxyUrl: proxyExt.url,
        localProxyUrl: proxyLocal.url,
        gatewayUrl: gateway.url,
        forge,
        starts: () =>
            (fs.existsSync(path.join(state, "starts")) ? fs.readFileSync(path.join(state, "starts"), "utf8") : "")
                .split("\n")
                .filter(Boolean)
                .map((line) => {
                    const [service, ...kv] = line.split(" ");
                    const f = Object.fromEntries(kv.map((x) => [x.slice(0, x.indexOf("=")), x.slice(x.indexOf("=") + 1)]));
                    return { service, router: f.router, allow: f.allow ? f.allow.split(",") : [], proxy: f.proxy };
                }),
        downloads,
        calls,
        changes: () => calls().filter((c) => !READ_CALL_RE.test(c)),
        failOn: (...patterns) => fs.writeFileSync(path.join(state, "fail"), patterns.join("\n") + "\n"),
        running: () => fs.readdirSync(path.join(state, "running")).sort(),
        // The local download server speaks http: the one place curl is let use it. lab is checked against the stub's checksum.
        env: (overrides = {}) => ({
            root, routerUrl: url, labUrl: `${url}/lab/latest`, labRelease: "latest", labSha256: createHash("sha256").update(labText).digest("hex"),
            curlProto: "=http,https", downloadTimeoutSec: 30, installTimeoutSec: 60, readyTimeoutSec: 5, healthTimeoutSec: 5, tailLines: 20, ...overrides,
        }),
        async close() {
            for (const server of servers) server.closeAllConnections();
            await Promise.all(servers.map((server) => new Promise((r) => server.close(r))));
            fs.rmSync(base, { recursive: true, force: true });
        },
    };
}

