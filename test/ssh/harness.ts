/**
 * A fake VM for the bootstrap scripts, reusable by other tests and rehearsals:
 * - `startSshd`: Debian's OpenSSH server on 127.0.0.1, a free port, its own config and
 *   host key, key login only, for the current user (root on CI);
 * - `generateClientKey`: an ED25519 client key (ssh-keygen);
 * - `createFakeVm`: a throwaway root with stub `hero_proc`, `hero_proxy`, `hero_router`
 *   that record their calls, plus a local HTTP server that serves the stub `lab`
 *   (download), the "release" blobs `lab` downloads, hero_router's health answers for
 *   the services the stub hero_proc runs, and a gateway that redirects to a login;
 * - `sshRun`/`runStep`: run a step exactly as the program does: the user's bundle
 *   copied over SFTP first, as the `<username>-scripts` step does (`copyBundle`), then
 *   the step's command string and stdin from bundle.ts, through the system ssh client.
 */
import { ChildProcess, execFileSync, spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { HERO_PATHS, HERO_SERVICES } from "../../components/hero-cli";
import { bundleRemotePath, renderBundle, renderStep, type Bundle } from "../../components/bundle";
import type { StepEnv, StepName, StepValues } from "../../components/render";
import { sftpPut } from "../engine/builtins";

// ------------------------------------------------------------------ sshd

export interface Sshd {
    host: string;
    port: number;
    /** The login user: the user running the test (root in CI). */
    user: string;
    dir: string;
    stop(): Promise<void>;
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
    return await new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, host, () => {
            const port = (srv.address() as net.AddressInfo).port;
            srv.close(() => resolve(port));
        });
    });
}

async function canConnect(host: string, port: number): Promise<boolean> {
    return await new Promise((resolve) => {
        const s = net.connect(port, host);
        s.once("connect", () => {
            s.destroy();
            resolve(true);
        });
        s.once("error", () => resolve(false));
    });
}

export function sshdAvailable(): boolean {
    return fs.existsSync("/usr/sbin/sshd");
}

/** Starts sshd accepting `authorizedKey` (an OpenSSH public key line) for the current user. */
export async function startSshd(authorizedKey: string, host = "127.0.0.1"): Promise<Sshd> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hb-sshd-"));
    if (process.getuid?.() === 0) fs.mkdirSync("/run/sshd", { recursive: true });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "host_key")]);
    fs.writeFileSync(path.join(dir, "authorized_keys"), authorizedKey.trim() + "\n", { mode: 0o600 });
    fs.mkdirSync(path.join(dir, "home"));
    const user = os.userInfo().username;
    const port = await freePort(host);
    fs.writeFileSync(
        path.join(dir, "sshd_config"),
        [
            `ListenAddress ${host}:${port}`,
            `HostKey ${dir}/host_key`,
            `AuthorizedKeysFile ${dir}/authorized_keys`,
            `PidFile ${dir}/sshd.pid`,
            `AllowUsers ${user}`,
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "LogLevel ERROR",
            "Subsystem sftp internal-sftp",
            // A VM's root has its own home: bash, started by sshd, reads ~/.bashrc, and the
            // home of whoever runs the tests is no VM's (see test/rehearsal/sshd.ts).
            `SetEnv HOME=${path.join(dir, "home")}`,
            "",
        ].join("\n"),
    );
    const child: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(host, port))) {
        if (child.exitCode !== null || Date.now() > deadline) {
            child.kill();
            throw new Error(`sshd on ${host}:${port} did not start: ${err}`);
        }
        await new Promise((r) => setTimeout(r, 50));
    }
    return {
        host,
        port,
        user,
        dir,
        async stop() {
            if (child.exitCode === null) {
                const exited = new Promise((r) => child.once("exit", r));
                child.kill("SIGTERM");
                await exited;
            }
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

export interface ClientKey {
    privateKeyPath: string;
    privateKeyOpenssh: string;
    publicKey: string;
}

/** An ED25519 key in `dir`, as tls.PrivateKey would give (OpenSSH private key, public key line). */
export function generateClientKey(dir: string): ClientKey {
    const privateKeyPath = path.join(dir, "id_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "hb-test", "-f", privateKeyPath]);
    return {
        privateKeyPath,
        privateKeyOpenssh: fs.readFileSync(privateKeyPath, "utf8"),
        publicKey: fs.readFileSync(privateKeyPath + ".pub", "utf8"),
    };
}

export interface SshResult {
    code: number;
    stdout: string;
    stderr: string;
    seconds: number;
}

/** Runs `command` on the sshd with `stdin`, as remote.Command does (one exec request, stdin piped). */
export async function sshRun(sshd: Pick<Sshd, "host" | "port" | "user">, key: Pick<ClientKey, "privateKeyPath">, command: string, stdin: string): Promise<SshResult> {
    const started = process.hrtime.bigint();
    const child = spawn(
        "ssh",
        [
            "-T",
            "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR",
            "-i", key.privateKeyPath,
            "-p", String(sshd.port),
            `${sshd.user}@${sshd.host}`,
            command,
        ],
        { stdio: ["pipe", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.stdin.end(stdin);
    const code: number = await new Promise((resolve) => child.on("close", (c) => resolve(c ?? -1)));
    return { code, stdout, stderr, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

// ------------------------------------------------------------------ fake VM

export interface FakeVm {
    /** The throwaway root the scripts run under (HB_ROOT). */
    root: string;
    /** The VM's root home, `<root>/root`: what an sshd for this VM gives its sessions as HOME. */
    home: string;
    /** Stub state: running services, applied files, secrets received, fail patterns. */
    state: string;
    /** URL of the local server: hero_router stand-in and download host. */
    url: string;
    /** A gateway URL on the local server (answers 302 to a login page). */
    gatewayUrl: string;
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
"service start" | "service restart") touch "$S/running/$3" ;;
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
"routes set") cp "$3" "$S/proxy-routes.json" ;;
*) echo "hero_proxy: unknown command $*" >&2; exit 2 ;;
esac
`;
}

function heroRouterStub(state: string): string {
    return stubPrelude("hero_router", state) + `touch "$S/access"
case "\${1:-} \${2:-}" in
"access list") cat "$S/access" ;;
"access add") echo "$3" >>"$S/access" ;;
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

/** A throwaway root with stubs, and the local HTTP server that stands in for downloads, hero_router and the gateway. */
export async function createFakeVm(): Promise<FakeVm> {
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
    let labText = "";
    const blob = Buffer.alloc(BLOB_BYTES, 0x5a);
    const server = http.createServer((req, res) => {
        const url = req.url ?? "/";
        const send = (status: number, body: string | Buffer, headers: Record<string, string> = {}) => {
            res.writeHead(status, { "content-length": String(Buffer.byteLength(body)), ...headers });
            res.end(body);
        };
        if (url.startsWith("/lab/")) {
            downloads.bytes += Buffer.byteLength(labText);
            downloads.requests.push(url);
            return send(200, labText);
        }
        if (url.startsWith("/dl/")) {
            downloads.bytes += blob.length;
            downloads.requests.push(url);
            return send(200, blob);
        }
        if (url === "/gw/" || url === "/gw") return send(302, "", { location: "/gw/login" });
        if (url === "/.well-known/heroservice.json") {
            return fs.existsSync(path.join(state, "running", "hero_router")) ? send(200, '{"name":"hero_router"}') : send(502, "down");
        }
        const m = /^\/([a-z_]+)\/rpc\/health$/.exec(url);
        if (m) {
            const up = m[1] === "hero_proc" || fs.existsSync(path.join(state, "running", m[1]));
            return up ? send(200, "ok") : send(502, "down");
        }
        send(404, "not found");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    labText = labStub(state, binDir, url);

    const calls = () => fs.readFileSync(path.join(state, "calls"), "utf8").split("\n").filter(Boolean);
    return {
        root,
        home: path.join(root, "root"),
        state,
        url,
        gatewayUrl: `${url}/gw/`,
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
            server.closeAllConnections();
            await new Promise((r) => server.close(r));
            fs.rmSync(base, { recursive: true, force: true });
        },
    };
}

/** The options ssh and sftp share for the test sshd. */
function sshOptions(key: Pick<ClientKey, "privateKeyPath">): string[] {
    return ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-i", key.privateKeyPath];
}

/** Copies the user's bundle to the fake VM over SFTP, as the `<username>-scripts` step does. Returns the bundle. */
export async function copyBundle(sshd: Pick<Sshd, "host" | "port" | "user">, key: Pick<ClientKey, "privateKeyPath">, values: StepValues, env: StepEnv): Promise<Bundle> {
    const bundle = renderBundle(values, env);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hb-bundle-"));
    try {
        const file = path.join(dir, "bundle.sh");
        fs.writeFileSync(file, bundle.text);
        await sftpPut({ target: `${sshd.user}@${sshd.host}`, port: sshd.port, options: sshOptions(key) }, file, bundleRemotePath(env.root));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
    return bundle;
}

/** Runs one bootstrap step over SSH: the bundle copied first, then the command and stdin bundle.ts gives remote.Command. */
export async function runStep(
    sshd: Pick<Sshd, "host" | "port" | "user">,
    key: Pick<ClientKey, "privateKeyPath">,
    step: StepName,
    values: StepValues,
    env: StepEnv,
    secrets?: { forgeToken: string },
): Promise<SshResult & { stdinBytes: number; bundleBytes: number }> {
    const bundle = await copyBundle(sshd, key, values, env);
    const { command, stdin } = renderStep(step, bundle, env, secrets);
    const result = await sshRun(sshd, key, command, stdin);
    return { ...result, stdinBytes: Buffer.byteLength(stdin), bundleBytes: Buffer.byteLength(bundle.text) };
}
