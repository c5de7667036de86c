/**
 * The work behind the stand-in command, tls and random plugins (plugins.ts), served to
 * the real `pulumi` CLI for the three non-dynamic providers the program uses:
 * - `tls:index/privateKey:PrivateKey`: a real ED25519 key from node:crypto
 *   (OpenSSH and PEM encodings; `publicKeyOpenssh` ends in a newline). Other
 *   algorithms are refused. Every input forces replacement, as in the provider.
 * - `random:index/randomPassword:RandomPassword` (and RandomString): real
 *   random characters honouring length/upper/lower/numeric/special, the min* counts and
 *   overrideSpecial. `bcryptHash` is NOT computed (left empty). Every input
 *   forces replacement.
 * - `command:remote:Command`: runs `create` (then `update ?? create` on input
 *   changes, `delete` on delete) with the system `ssh` client against the
 *   resource's connection (host, port, user, privateKey in OpenSSH or PKCS#8 PEM
 *   form, as the provider's Go parser takes both, hostKey when set: then
 *   a known_hosts file with that one key and StrictHostKeyChecking=yes, and any
 *   other key fails as the provider fails, "ssh: handshake failed: ssh: host key mismatch"),
 *   with stdin, and environment passed like the provider's Setenv (it reaches
 *   the command only when sshd's AcceptEnv allows it), over the key exchange the
 *   provider's Go client negotiates (curve25519-sha256). Password auth, proxies
 *   and agent auth are NOT implemented. `triggers` replace the resource through
 *   the SDK's `replaceOnChanges`, which the engine honours.
 * - `command:remote:CopyToRemote`: copies its `source` file asset over SFTP (the
 *   system `sftp` client, as the provider speaks SFTP) with the resource's
 *   connection to `remotePath`, creating the parent directories; on an update
 *   (source or connection changed) it copies again; `triggers` replace. Its state
 *   keeps the asset as the engine does: path and hash (the engine adds the hash),
 *   never the content. Delete removes nothing on the remote. Only file assets are
 *   implemented (no archives, no directories).
 */
import { ChildProcess, execFile, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export type Props = Record<string, any>;

export interface Builtin {
    /** Input keys whose change forces replacement ("*" = all). */
    replaceKeys: string[] | "*";
    create(inputs: Props, log: (msg: string) => void): Promise<{ id: string; outputs: Props }>;
    update?(id: string, olds: Props, news: Props, log: (msg: string) => void): Promise<Props>;
    delete?(id: string, outputs: Props, log: (msg: string) => void): Promise<void>;
}

export const BUILTINS: Record<string, Builtin> = {
    "tls:index/privateKey:PrivateKey": {
        replaceKeys: "*",
        async create(inputs) {
            if (inputs.algorithm !== "ED25519") {
                throw new Error(`stand-in plugin: tls.PrivateKey algorithm ${inputs.algorithm} is not implemented (ED25519 only)`);
            }
            const k = ed25519Key();
            return { id: crypto.createHash("sha1").update(k.publicKeyPem).digest("hex"), outputs: { ecdsaCurve: "P224", rsaBits: 2048, ...inputs, ...k } };
        },
    },
    "random:index/randomPassword:RandomPassword": { replaceKeys: "*", create: async (inputs) => randomResult(inputs) },
    "random:index/randomString:RandomString": { replaceKeys: "*", create: async (inputs) => randomResult(inputs) },
    "command:remote:Command": {
        replaceKeys: [],
        async create(inputs, log) {
            const out = inputs.create ? await ssh(inputs, inputs.create, {}, log) : { stdout: "", stderr: "" };
            return { id: `${inputs.connection?.host ?? "host"}-${crypto.randomBytes(4).toString("hex")}`, outputs: { ...inputs, ...out } };
        },
        async update(_id, olds, news, log) {
            const command = news.update ?? news.create;
            const out = command ? await ssh(news, command, previousOutput(news, olds), log) : { stdout: olds.stdout, stderr: olds.stderr };
            return { ...news, ...out };
        },
        async delete(_id, outputs, log) {
            if (outputs.delete) {
                await ssh(outputs, outputs.delete, previousOutput(outputs, outputs), log);
            }
        },
    },
    "command:remote:CopyToRemote": {
        replaceKeys: [],
        async create(inputs, log) {
            await copyToRemote(inputs, log);
            return { id: `${inputs.connection?.host ?? "host"}-${crypto.randomBytes(4).toString("hex")}`, outputs: { ...inputs } };
        },
        async update(_id, _olds, news, log) {
            await copyToRemote(news, log);
            return { ...news };
        },
    },
};

/** The file asset's local path: `source` as the SDK serialized it. */
function assetPath(source: any): string {
    if (!source || typeof source.path !== "string") {
        throw new Error("stand-in plugin: CopyToRemote is implemented for file assets only (source.path)");
    }
    return path.resolve(source.path);
}

/** CopyToRemote's work: the file over SFTP to `remotePath`, parents created. */
async function copyToRemote(inputs: Props, log: (msg: string) => void): Promise<void> {
    const local = assetPath(inputs.source);
    if (!fs.statSync(local).isFile()) throw new Error(`stand-in plugin: CopyToRemote source ${local} is not a file`);
    await withConnection(inputs.connection ?? {}, async (c) => {
        log(`sftp ${c.target}: put ${path.basename(local)} ${inputs.remotePath}`);
        await sftpPut(c, local, inputs.remotePath, inputs.connection?.dialErrorLimit ?? 10);
    });
}

export interface SshTarget {
    /** user@host */
    target: string;
    port: number;
    /** -i, -o ... options shared by ssh and sftp. */
    options: string[];
}

/** The key exchange golang.org/x/crypto/ssh's client and an OpenSSH 9.2 server agree on. */
export const GO_SSH_KEX = "curve25519-sha256";

/**
 * The connection's key file (and known_hosts with the pinned host key), written once per
 * connection and process into one private temp dir that goes when the process exits.
 */
function connectionFiles(c: Props, port: number): { key: string; known?: string } {
    const id = crypto.createHash("sha256").update(JSON.stringify([c.privateKey, c.hostKey ?? null, c.host, port])).digest("hex").slice(0, 16);
    let files = CONNECTION_FILES.get(id);
    if (!files) {
        if (!filesDir) {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rehearsal-ssh-"));
            process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
            filesDir = dir;
        }
        files = { key: path.join(filesDir, `${id}.key`) };
        fs.writeFileSync(files.key, sshKeyFile(c.privateKey), { mode: 0o600 });
        if (c.hostKey) {
            files.known = path.join(filesDir, `${id}.known_hosts`);
            fs.writeFileSync(files.known, `[${c.host}]:${port} ${c.hostKey}\n`);
        }
        CONNECTION_FILES.set(id, files);
    }
    return files;
}
const CONNECTION_FILES = new Map<string, { key: string; known?: string }>();
let filesDir: string | undefined;

/** The ssh/sftp target and options of a connection (key and pinned host key in files, see connectionFiles). */
async function withConnection<T>(c: Props, fn: (t: SshTarget) => Promise<T>): Promise<T> {
    if (!c.privateKey) {
        throw new Error("stand-in plugin: a connection without privateKey is not implemented");
    }
    const port = c.port ?? 22;
    const files = connectionFiles(c, port);
    const options = [
        "-F", "/dev/null", "-i", files.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
        "-o", `StrictHostKeyChecking=${files.known ? "yes" : "no"}`, "-o", `UserKnownHostsFile=${files.known ?? "/dev/null"}`,
        "-o", `ConnectTimeout=${c.perDialTimeout ?? 15}`,
        // The key exchange the provider's Go client (golang.org/x/crypto/ssh) settles on with
        // an OpenSSH 9.2 server. OpenSSH's own client default, sntrup761x25519, which Go's
        // client does not implement, costs ~70 ms more CPU per connection, paid here on the
        // machine that also runs every fake VM.
        "-o", `KexAlgorithms=${GO_SSH_KEX}`,
    ];
    return await fn({ target: `${c.user ?? "root"}@${c.host}`, port, options });
}

/**
 * `sftp -b -`: makes each parent directory of `remote` (errors ignored, as for one that
 * exists), then puts `local` there. Dial errors are retried like ssh's.
 */
/** OpenSSH's words when a pinned host key (StrictHostKeyChecking=yes) does not match. */
const HOST_KEY_REFUSED = /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/;

export async function sftpPut(t: SshTarget, local: string, remote: string, limit = 10): Promise<void> {
    const parents: string[] = [];
    for (let d = path.posix.dirname(remote); d !== "/" && d !== "."; d = path.posix.dirname(d)) parents.unshift(d);
    const q = (x: string) => `"${x.replace(/(["\\])/g, "\\$1")}"`;
    const batch = [...parents.map((d) => `-mkdir ${q(d)}`), `put ${q(local)} ${q(remote)}`, ""].join("\n");
    for (let attempt = 1; ; attempt++) {
        const r = await run("sftp", [...t.options, "-P", String(t.port), "-b", "-", t.target], batch, process.env);
        if (r.code === 0) return;
        if (HOST_KEY_REFUSED.test(r.stderr)) {
            // What the command provider's Go client says when the server's key is not connection.hostKey.
            throw new Error(`ssh: handshake failed: ssh: host key mismatch (${t.target}:${t.port} did not present the pinned host key)`);
        }
        const dialError = /connect to host|Connection (refused|reset|closed)|timed out/i.test(r.stderr);
        if (!dialError || attempt >= limit) {
            throw new Error(`sftp ${t.target} put ${remote} failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
        }
        await new Promise((res) => setTimeout(res, Math.min(200 * attempt, 2000)));
    }
}

/** PULUMI_COMMAND_STDOUT/STDERR, which the provider adds unless addPreviousOutputInEnv is false. */
function previousOutput(inputs: Props, olds: Props): Record<string, string> {
    return inputs.addPreviousOutputInEnv === false ? {} : { PULUMI_COMMAND_STDOUT: olds.stdout ?? "", PULUMI_COMMAND_STDERR: olds.stderr ?? "" };
}

/** An ED25519 key pair in the encodings tls.PrivateKey returns. */
export function ed25519Key(): Props {
    const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
    const pubBlob = ed25519PublicBlob(privateKey);
    const pkcs8 = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    return {
        algorithm: "ED25519",
        privateKeyOpenssh: opensshPrivateKey(privateKey),
        privateKeyPem: pkcs8,
        privateKeyPemPkcs8: pkcs8,
        publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
        publicKeyOpenssh: `ssh-ed25519 ${pubBlob.toString("base64")}\n`,
        publicKeyFingerprintMd5: crypto.createHash("md5").update(pubBlob).digest("hex").replace(/(..)(?!$)/g, "$1:"),
        publicKeyFingerprintSha256: `SHA256:${crypto.createHash("sha256").update(pubBlob).digest("base64").replace(/=+$/, "")}`,
    };
}

/** An SSH string: uint32 length, then the bytes. */
function sshString(b: Buffer | string): Buffer {
    const buf = Buffer.from(b);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(buf.length);
    return Buffer.concat([len, buf]);
}

/** The public key blob of an ED25519 key: "ssh-ed25519" and the 32-byte key. */
function ed25519PublicBlob(key: crypto.KeyObject): Buffer {
    return Buffer.concat([sshString("ssh-ed25519"), sshString(Buffer.from(key.export({ format: "jwk" }).x!, "base64url"))]);
}

/** An ED25519 private key in OpenSSH's own format (unencrypted), as `ssh-keygen` writes it. */
export function opensshPrivateKey(privateKey: crypto.KeyObject): string {
    const jwk = privateKey.export({ format: "jwk" });
    const pub = Buffer.from(jwk.x!, "base64url");
    const seed = Buffer.from(jwk.d!, "base64url");
    const check = crypto.randomBytes(4);
    let secret = Buffer.concat([check, check, sshString("ssh-ed25519"), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString("")]);
    const pad = (8 - (secret.length % 8)) % 8;
    secret = Buffer.concat([secret, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
    const one = Buffer.alloc(4);
    one.writeUInt32BE(1);
    const blob = Buffer.concat([Buffer.from("openssh-key-v1\0"), sshString("none"), sshString("none"), sshString(""), one, sshString(ed25519PublicBlob(privateKey)), sshString(secret)]);
    const b64 = blob.toString("base64").replace(/(.{70})/g, "$1\n").replace(/\n$/, "");
    return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

/**
 * A connection's `privateKey` as a key file the system `ssh` client reads. The command
 * provider parses it with golang.org/x/crypto/ssh's ParsePrivateKey, which takes PKCS#8
 * PEM ED25519 keys (what the program sends: `privateKeyPemPkcs8`, shorter in state);
 * OpenSSH 9.2 does not, so such a key is rewritten in OpenSSH's format, the same key.
 * Anything else is passed as is.
 */
export function sshKeyFile(privateKey: string): string {
    const text = privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`;
    if (!text.includes("-----BEGIN PRIVATE KEY-----")) return text;
    const key = crypto.createPrivateKey(text);
    if (key.asymmetricKeyType !== "ed25519") {
        throw new Error(`stand-in plugin: a PKCS#8 ${key.asymmetricKeyType} connection key is not implemented (ED25519 only)`);
    }
    return opensshPrivateKey(key);
}

function randomResult(inputs: Props): { id: string; outputs: Props } {
    const length = inputs.length ?? 16;
    const sets: [boolean, string, number][] = [
        [inputs.upper !== false, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", inputs.minUpper ?? 0],
        [inputs.lower !== false, "abcdefghijklmnopqrstuvwxyz", inputs.minLower ?? 0],
        [inputs.numeric !== false && inputs.number !== false, "0123456789", inputs.minNumeric ?? 0],
        [inputs.special !== false, inputs.overrideSpecial || "!@#$%&*()-_=+[]{}<>:?", inputs.minSpecial ?? 0],
    ];
    const pick = (chars: string) => chars[crypto.randomInt(chars.length)];
    const chars: string[] = [];
    for (const [on, set, min] of sets) {
        for (let i = 0; on && i < min; i++) chars.push(pick(set));
    }
    const all = sets.filter(([on]) => on).map(([, set]) => set).join("");
    while (chars.length < length) chars.push(pick(all));
    for (let i = chars.length - 1; i > 0; i--) {
        const j = crypto.randomInt(i + 1);
        [chars[i], chars[j]] = [chars[j], chars[i]];
    }
    return { id: "none", outputs: { ...inputs, length, result: chars.join(""), bcryptHash: "" } };
}

/** Runs `command` over SSH with the resource's connection, the way remote.Command does. */
export async function ssh(inputs: Props, command: string, extraEnv: Record<string, string>, log: (msg: string) => void): Promise<{ stdout: string; stderr: string }> {
    const c = inputs.connection ?? {};
    if (!c.privateKey) {
        throw new Error("stand-in plugin: remote.Command without connection.privateKey is not implemented");
    }
    return withConnection(c, async (t) => {
        const env: Record<string, string> = { ...(inputs.environment ?? {}), ...extraEnv };
        const args = [...t.options, ...Object.keys(env).flatMap((k) => ["-o", `SendEnv=${k}`]), "-p", String(t.port), t.target, "--", command];
        const limit = c.dialErrorLimit ?? 10;
        for (let attempt = 1; ; attempt++) {
            log(`ssh ${t.target}:${t.port}: ${command.split("\n")[0].slice(0, 80)}`);
            const r = await run("ssh", args, inputs.stdin, { ...process.env, ...env });
            if (r.code === 0) {
                return { stdout: r.stdout.replace(/\n$/, ""), stderr: r.stderr.replace(/\n$/, "") };
            }
            if (c.hostKey && r.code === 255 && HOST_KEY_REFUSED.test(r.stderr)) {
                // What the command provider's Go client says when the server's key is not connection.hostKey.
                throw new Error(`ssh: handshake failed: ssh: host key mismatch (${c.host}:${t.port} did not present the pinned host key)`);
            }
            const dialError = r.code === 255 && /connect to host|Connection (refused|reset|closed)|timed out/i.test(r.stderr);
            if (!dialError || attempt >= limit) {
                throw new Error(`Process exited with status ${r.code}: running ${JSON.stringify(command.slice(0, 200))}:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
            }
            await new Promise((res) => setTimeout(res, Math.min(200 * attempt, 2000)));
        }
    });
}

function run(file: string, args: string[], stdin: string | undefined, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
    if (spawner) return spawner.run(file, args, stdin, env);
    return new Promise((resolve) => {
        const child = execFile(file, args, { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
            const code = err ? (typeof (err as any).code === "number" ? (err as any).code : 255) : 0;
            resolve({ code, stdout, stderr });
        });
        child.stdin!.end(stdin ?? "");
    });
}

type RunResult = { code: number; stdout: string; stderr: string };

/** A connection to spawner.js: the ssh and sftp clients are started by that small process, not by this one. */
class Spawner {
    private readonly child: ChildProcess;
    private readonly pending = new Map<number, (r: RunResult) => void>();
    private nextId = 0;

    constructor() {
        this.child = spawn(process.execPath, [path.join(__dirname, "spawner.js")], { stdio: ["pipe", "pipe", "inherit"] });
        this.child.stdout!.setEncoding("utf8");
        let buffered = "";
        this.child.stdout!.on("data", (d: string) => {
            buffered += d;
            let nl: number;
            while ((nl = buffered.indexOf("\n")) >= 0) {
                const answer = JSON.parse(buffered.slice(0, nl));
                buffered = buffered.slice(nl + 1);
                this.pending.get(answer.id)?.({ code: answer.code, stdout: answer.stdout, stderr: answer.stderr });
                this.pending.delete(answer.id);
            }
        });
        this.child.on("exit", (code) => {
            for (const resolve of this.pending.values()) resolve({ code: 255, stdout: "", stderr: `stand-in plugin: the process runner exited (${code})` });
            this.pending.clear();
        });
    }

    stop(): Promise<void> {
        if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
        const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
        this.child.stdin!.end();
        return exited;
    }

    run(file: string, args: string[], input: string | undefined, env: NodeJS.ProcessEnv): Promise<RunResult> {
        const id = this.nextId++;
        return new Promise((resolve) => {
            this.pending.set(id, resolve);
            this.child.stdin!.write(`${JSON.stringify({ id, file, args, input: input ?? "", env })}\n`);
        });
    }
}

let spawner: Spawner | undefined;

/**
 * From now on, this process starts its ssh and sftp clients through spawner.js (the
 * stand-in plugin, whose one thread forking itself is slower). It ends with this
 * process (its stdin closes).
 */
export function useSpawner(): void {
    spawner ??= new Spawner();
}

/** Ends spawner.js and waits for it, so that its CPU (and its clients') is counted in this process's children. */
export async function stopSpawner(): Promise<void> {
    await spawner?.stop();
    spawner = undefined;
}

/**
 * CPU time of process `pid` (default: this one) and of its children it has waited for,
 * in ms, from /proc (Linux; undefined elsewhere).
 */
export function processTreeCpuMs(pid: number | "self" = "self"): number | undefined {
    try {
        const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
        // utime, stime, cutime, cstime: fields 14-17 of stat, in clock ticks (100 per second on Linux).
        return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
    } catch {
        return undefined;
    }
}
