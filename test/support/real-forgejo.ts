/**
 * A real Forgejo for the tests: the binary `npm run forgejo`
 * (scripts/forgejo/build.sh) builds into its cache, started on 127.0.0.1 with
 * SQLite in a temporary folder, the install already locked, an admin made by
 * Forgejo's own CLI and an admin token minted by it. `stop()` ends the server
 * and removes the folder.
 *
 * Tests that need it call `realForgejoBinary()` at load time: absent, they are
 * skipped with a message, except under CI=true, where a missing binary fails
 * the run (.ci/run builds it).
 *
 * Runs as root (CI) and as an ordinary user: Forgejo refuses root unless its
 * config says I_AM_BEING_UNSAFE_RUNNING_AS_ROOT, which is set only then.
 */
import { spawn, spawnSync, type ChildProcess } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../..");
const PIN_FILE = path.join(ROOT, "scripts/forgejo/pin.env");

/** The KEY=value lines of scripts/forgejo/pin.env. */
export function forgejoPin(): Record<string, string> {
    const pin: Record<string, string> = {};
    for (const line of fs.readFileSync(PIN_FILE, "utf8").split("\n")) {
        const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
        if (m) pin[m[1]] = m[2];
    }
    return pin;
}

/** Where build.sh puts this pin's build (the same rule as the script). */
export function forgejoBuildDir(env: NodeJS.ProcessEnv = process.env): string {
    const cacheRoot = env.HERO_FORGEJO_CACHE || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "hero-os-grid-deployer", "forgejo");
    return path.join(cacheRoot, forgejoPin().FORGEJO_CACHE_KEY);
}

export interface ForgejoBinary {
    bin: string;
    /** The patched source tree: its templates/ and options/ are read at run time. */
    staticRoot: string;
    /** What the binary reports, e.g. "10.0.0-dev-456d05998231+gitea-1.22.0". */
    version: string;
}

/**
 * The built Forgejo, or undefined (with a warning naming what to run) when it
 * is absent. Under CI=true an absent binary throws: CI must run against it.
 */
export function realForgejoBinary(what = "real Forgejo tests"): ForgejoBinary | undefined {
    const dir = forgejoBuildDir();
    const bin = path.join(dir, "bin", "forgejo");
    const staticRoot = path.join(dir, "src");
    if (fs.existsSync(bin) && fs.existsSync(path.join(staticRoot, "templates"))) {
        return { bin, staticRoot, version: forgejoPin().FORGEJO_VERSION };
    }
    const how = "build it with `npm run forgejo` (scripts/forgejo/build.sh)";
    if (process.env.CI === "true") {
        throw new Error(`CI: the Forgejo binary is missing at ${bin}; .ci/run must ${how}`);
    }
    console.warn(`SKIPPED ${what}: no Forgejo binary at ${bin}; ${how}`);
    return undefined;
}

export interface RealForgejo {
    /** `http://127.0.0.1:<port>`, no trailing slash. */
    url: string;
    adminLogin: string;
    adminPassword: string;
    /** An access token of the admin with scope `all`. */
    adminToken: string;
    /** GET /api/v1/version's answer. */
    version: string;
    /** The temporary work path (app.ini, SQLite database, repositories, logs). */
    workDir: string;
    /** Runs the Forgejo CLI against this instance's config; resolves with its stdout. */
    cli(args: string[]): Promise<string>;
    /** One REST call (`path` relative to /api/v1) as the admin, or as `auth`; never throws on a status. */
    api<T = any>(method: string, path: string, opts?: ApiOptions): Promise<{ status: number; body: T }>;
    stop(): Promise<void>;
}

export interface ApiOptions {
    body?: unknown;
    /** A token instead of the admin's, or Basic auth as a user. */
    auth?: { token: string } | { username: string; password: string } | "none";
}

export interface StartOptions {
    /** Extra app.ini lines per section, e.g. `{ service: ["DEFAULT_ALLOW_CREATE_ORGANIZATION = false"] }`. */
    ini?: Record<string, string[]>;
    /** How long to wait for the HTTP server. @default 90000 */
    readyTimeoutMs?: number;
}

/**
 * Starts a fresh Forgejo on a free loopback port; see the module comment. The
 * port is free when picked and bound by Forgejo a moment later: if another
 * process took it in between, the start is tried again on another port.
 */
export async function startRealForgejo(binary: ForgejoBinary, opts: StartOptions = {}): Promise<RealForgejo> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await startOnce(binary, opts);
        } catch (err) {
            if (attempt >= 3 || !/address already in use/i.test((err as Error).message)) throw err;
        }
    }
}

async function startOnce(binary: ForgejoBinary, opts: StartOptions): Promise<RealForgejo> {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "hero-forgejo-"));
    let child: ChildProcess | undefined;
    try {
        const port = await freePort();
        const url = `http://127.0.0.1:${port}`;
        const config = path.join(workDir, "custom", "conf", "app.ini");
        fs.mkdirSync(path.dirname(config), { recursive: true });
        fs.writeFileSync(config, appIni({ workDir, port, staticRoot: binary.staticRoot, extra: opts.ini ?? {} }), { mode: 0o600 });
        const env = forgejoEnv(workDir);
        const cli = (args: string[]) => run(binary.bin, [...args, "--config", config, "--work-path", workDir], env, workDir);

        await cli(["migrate"]);
        const adminLogin = "forge-admin";
        const created = await cli(["admin", "user", "create", "--admin", "--username", adminLogin, "--email", "forge-admin@forge.test", "--random-password", "--random-password-length", "24", "--must-change-password=false"]);
        const adminPassword = /generated random password is '([^']+)'/.exec(created)?.[1];
        if (!adminPassword) throw new Error(`forgejo admin user create printed no password: ${created.slice(0, 300)}`);
        // The CLI logs to stdout too (as root it warns first): the token is the last line.
        const minted = await cli(["admin", "user", "generate-access-token", "--username", adminLogin, "--token-name", "hero-tests", "--scopes", "all", "--raw"]);
        const adminToken = minted.trim().split("\n").at(-1) ?? "";
        if (!/^[0-9a-f]{40}$/.test(adminToken)) throw new Error(`forgejo admin user generate-access-token printed no token: ${lastLines(minted, 3).slice(0, 300)}`);

        const logFile = path.join(workDir, "web.log");
        const out = fs.openSync(logFile, "a");
        child = spawn(binary.bin, ["web", "--config", config, "--work-path", workDir, "--port", String(port)], { cwd: workDir, env, stdio: ["ignore", out, out] });
        fs.closeSync(out);
        const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
        const version = await waitReady(url, exited, logFile, opts.readyTimeoutMs ?? 90_000);
        const proc = child;
        return {
            url,
            adminLogin,
            adminPassword,
            adminToken,
            version,
            workDir,
            cli,
            api: (method, p, o) => api(url, adminToken, method, p, o),
            stop: async () => {
                await stopProcess(proc, exited);
                fs.rmSync(workDir, { recursive: true, force: true });
            },
        };
    } catch (err) {
        if (child && child.exitCode === null) child.kill("SIGKILL");
        fs.rmSync(workDir, { recursive: true, force: true });
        throw err;
    }
}

async function api(url: string, adminToken: string, method: string, p: string, o: ApiOptions = {}): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = { accept: "application/json" };
    const auth = o.auth ?? { token: adminToken };
    if (auth !== "none" && "token" in auth) headers.authorization = `token ${auth.token}`;
    if (auth !== "none" && "username" in auth) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
    if (o.body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${url}/api/v1${p}`, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body), signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    let body: unknown = text;
    try {
        body = text ? JSON.parse(text) : undefined;
    } catch {
        // not JSON: keep the text
    }
    return { status: res.status, body };
}

/** The app.ini of a throwaway instance: loopback only, offline, no mail, no SSH, no cron, SQLite. */
export function appIni(o: { workDir: string; port: number; staticRoot: string; extra: Record<string, string[]> }): string {
    const secret = () => randomBytes(32).toString("hex");
    const sections: Record<string, string[]> = {
        "": [
            "APP_NAME = Hero OS test Forge",
            "RUN_MODE = prod",
            `RUN_USER = ${os.userInfo().username}`,
            `WORK_PATH = ${o.workDir}`,
            // Forgejo refuses to run as root without this (modules/setting/setting.go); CI runs as root.
            ...(process.getuid?.() === 0 ? ["I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true"] : []),
        ],
        server: [
            "PROTOCOL = http",
            "HTTP_ADDR = 127.0.0.1",
            `HTTP_PORT = ${o.port}`,
            "DOMAIN = 127.0.0.1",
            `ROOT_URL = http://127.0.0.1:${o.port}/`,
            `STATIC_ROOT_PATH = ${o.staticRoot}`,
            `APP_DATA_PATH = ${path.join(o.workDir, "data")}`,
            "DISABLE_SSH = true",
            "START_SSH_SERVER = false",
            "OFFLINE_MODE = true",
            "LFS_START_SERVER = false",
        ],
        database: ["DB_TYPE = sqlite3", `PATH = ${path.join(o.workDir, "data", "forgejo.db")}`, "SQLITE_JOURNAL_MODE = WAL"],
        repository: [`ROOT = ${path.join(o.workDir, "repos")}`],
        security: [
            "INSTALL_LOCK = true",
            `SECRET_KEY = ${secret()}`,
            `INTERNAL_TOKEN = ${secret()}`,
            // Cheaper than the default hash: every Basic-auth call hashes the password once.
            "PASSWORD_HASH_ALGO = pbkdf2$10000$50",
            "PASSWORD_CHECK_PWN = false",
        ],
        oauth2: [`JWT_SECRET = ${randomBytes(32).toString("base64url")}`],
        service: ["DISABLE_REGISTRATION = true", "ENABLE_NOTIFY_MAIL = false", "DEFAULT_ALLOW_CREATE_ORGANIZATION = true"],
        mailer: ["ENABLED = false"],
        session: ["PROVIDER = memory"],
        cache: ["ADAPTER = memory"],
        queue: ["TYPE = channel"],
        indexer: ["ISSUE_INDEXER_TYPE = db", "REPO_INDEXER_ENABLED = false"],
        cron: ["ENABLED = false"],
        "cron.update_checker": ["ENABLED = false"],
        actions: ["ENABLED = false"],
        federation: ["ENABLED = false"],
        packages: ["ENABLED = false"],
        picture: ["DISABLE_GRAVATAR = true", "ENABLE_FEDERATED_AVATAR = false"],
        log: ["MODE = console", "LEVEL = Warn", `ROOT_PATH = ${path.join(o.workDir, "log")}`],
    };
    for (const [name, lines] of Object.entries(o.extra)) sections[name] = [...(sections[name] ?? []), ...lines];
    return Object.entries(sections)
        .map(([name, lines]) => (name ? `[${name}]\n` : "") + lines.join("\n") + "\n")
        .join("\n");
}

/** A clean environment: no GITEA_/FORGEJO_ variables of the caller, HOME inside the work path. */
function forgejoEnv(workDir: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (!/^(GITEA|FORGEJO)_/.test(k)) env[k] = v;
    }
    return { ...env, HOME: workDir, GIT_CONFIG_NOSYSTEM: "1" };
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const p = spawn(bin, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        p.stdout.on("data", (d: Buffer) => (out += d.toString()));
        p.stderr.on("data", (d: Buffer) => (err += d.toString()));
        p.on("error", reject);
        p.on("close", (code) => {
            if (code === 0) resolve(out);
            else reject(new Error(`forgejo ${args.slice(0, 3).join(" ")} exited ${code}: ${lastLines(err || out, 15)}`));
        });
    });
}

/** A port nobody listens on now (the kernel picks it); Forgejo binds it a moment later. */
function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const { port } = s.address() as net.AddressInfo;
            s.close(() => resolve(port));
        });
    });
}

/** Polls GET /api/v1/version until it answers, the process exits, or the deadline passes. */
async function waitReady(url: string, exited: Promise<number | null>, logFile: string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let gone: number | null | undefined;
    void exited.then((code) => (gone = code));
    let last = "";
    while (Date.now() < deadline) {
        if (gone !== undefined) {
            throw new Error(`forgejo web exited (${gone}) before answering on ${url}: ${lastLines(readLog(logFile), 20)}`);
        }
        try {
            const res = await fetch(`${url}/api/v1/version`, { signal: AbortSignal.timeout(2_000) });
            if (res.ok) return ((await res.json()) as { version: string }).version;
            last = `status ${res.status}`;
        } catch (err) {
            last = (err as Error).message;
        }
        await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`forgejo web did not answer GET ${url}/api/v1/version within ${timeoutMs} ms (last: ${last}): ${lastLines(readLog(logFile), 20)}`);
}

async function stopProcess(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
}

function readLog(file: string): string {
    try {
        return fs.readFileSync(file, "utf8");
    } catch {
        return "";
    }
}

function lastLines(text: string, n: number): string {
    return text.trim().split("\n").slice(-n).join("\n");
}

/** True when `git` is on PATH: Forgejo needs it at run time. */
export function haveGit(): boolean {
    return spawnSync("git", ["--version"]).status === 0;
}
