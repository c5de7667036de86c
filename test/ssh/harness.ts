/**
 * A fake VM for the bootstrap scripts, reusable by other tests and rehearsals:
 * - `startSshd`: Debian's OpenSSH server on 127.0.0.1, a free port, its own config and
 *   host key, key login only, for the current user (root on CI);
 * - `generateClientKey`: an ED25519 client key (ssh-keygen);
 * - `createFakeVm` (fake-vm.ts): a throwaway root with stub `hero_proc`, `hero_proxy`,
 *   `hero_router` that record their calls, plus local HTTP servers for the downloads,
 *   hero_router, hero_proxy (stand-ins.ts) and the gateway, on loopback and on a second
 *   loopback address standing for the VM's external (mycelium) address;
 * - `sshRun`/`runStep`: run a step exactly as the program does: the user's bundle
 *   copied over SFTP first, as the `<username>-scripts` step does (`copyBundle`), then
 *   the step's command string and stdin from bundle.ts, through the system ssh client.
 */
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { bundleRemotePath, renderBundle, renderStep, type Bundle, type StepSecrets } from "../../components/bundle";
import type { StepEnv, StepName, StepValues } from "../../components/render";
import { sftpPut } from "../engine/builtins";

export { BLOB_BYTES, createFakeVm, type FakeVm } from "./fake-vm";

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
    secrets?: StepSecrets,
): Promise<SshResult & { stdinBytes: number; bundleBytes: number }> {
    const bundle = await copyBundle(sshd, key, values, env);
    const { command, stdin } = renderStep(step, bundle, env, secrets);
    const result = await sshRun(sshd, key, command, stdin);
    return { ...result, stdinBytes: Buffer.byteLength(stdin), bundleBytes: Buffer.byteLength(bundle.text) };
}
