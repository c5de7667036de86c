/**
 * A local sshd standing in for a VM's: key login only, for the user running
 * the tests (root in CI, an ordinary user elsewhere), SFTP (internal-sftp), on 127.0.0.1 and a free port, AcceptEnv *, host key and authorized_keys in a
 * temp dir. One per fake VM in the scenarios, on that VM's own 127.0.0.x.
 */
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { processTreeCpuMs } from "../engine/builtins";

export interface Sshd {
    host: string;
    port: number;
    dir: string;
    authorizedKeys: string;
    /** CPU ms this sshd and the sessions it has ended used so far: the fake VM's side of its SSH steps (Linux). */
    cpuMs(): number | undefined;
    stop(): Promise<void>;
}

/**
 * `keyFiles`: more authorized_keys files (they may appear later; sshd reads them
 * at each login). `port`: a fixed port (one per loopback address), else a free one.
 * `env`: set in every session (sshd's SetEnv). HOME defaults to an empty directory of
 * this sshd's, as a VM's root has its own home: bash, started by sshd, reads
 * ~/.bashrc, and the home of whoever runs the tests is no VM's (a shell setup there,
 * e.g. pyenv's, cost some 0.7 s of CPU per session on the 2-core machine).
 * `forceCommand`: sshd's ForceCommand, run instead of what the client asks
 * (SSH_ORIGINAL_COMMAND says what that was).
 */
export async function startSshd(keyFiles: string[] = [], host = "127.0.0.1", fixedPort?: number, env: Record<string, string> = {}, forceCommand?: string): Promise<Sshd> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rehearsal-sshd-"));
    fs.mkdirSync(path.join(dir, "home"));
    const setEnv = Object.entries({ HOME: path.join(dir, "home"), ...env }).map(([k, v]) => `${k}=${v}`);
    // Only root's sshd needs its privilege-separation directory; an ordinary user's runs without it.
    if (process.getuid?.() === 0) fs.mkdirSync("/run/sshd", { recursive: true });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "host_key")]);
    const authorizedKeys = path.join(dir, "authorized_keys");
    fs.writeFileSync(authorizedKeys, "", { mode: 0o600 });
    const port = fixedPort ?? (await freePort(host));
    fs.writeFileSync(
        path.join(dir, "sshd_config"),
        [`ListenAddress ${host}:${port}`, `HostKey ${dir}/host_key`, `AuthorizedKeysFile ${[authorizedKeys, ...keyFiles].join(" ")}`, `PidFile ${dir}/sshd.pid`,
            "PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
            "StrictModes no", "AcceptEnv *", "LogLevel ERROR", "Subsystem sftp internal-sftp", `SetEnv ${setEnv.join(" ")}`,
            ...(forceCommand ? [`ForceCommand ${forceCommand}`] : [])].join("\n") + "\n",
    );
    const child: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(host, port))) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd on ${host}:${port} did not start: ${err}`);
        await new Promise((r) => setTimeout(r, 50));
    }
    return {
        host, port, dir, authorizedKeys,
        cpuMs: () => (child.pid === undefined ? undefined : processTreeCpuMs(child.pid)),
        async stop() {
            if (child.exitCode === null) {
                const exited = new Promise((r) => child.once("exit", r));
                child.kill();
                await exited;
            }
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

export function freePort(host: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = net.createServer().listen(0, host, () => {
            const { port } = s.address() as net.AddressInfo;
            s.close(() => resolve(port));
        });
        s.on("error", reject);
    });
}

function canConnect(host: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const s = net.connect(port, host, () => (s.destroy(), resolve(true)));
        s.on("error", () => resolve(false));
    });
}
