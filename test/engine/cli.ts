/**
 * The real `pulumi` CLI for the tests: where the engine built by
 * scripts/engine/build.sh lives, the directory each run puts first on PATH
 * (that CLI, our language host next to it, the stand-in plugins), the offline
 * environment, and one call that runs a command and returns what it printed.
 */
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const PROJECT = "hero-os-grid-deployer";

/** The @pulumi/pulumi version package.json pins: the CLI is built at the same. */
export const PULUMI_VERSION = `v${require(path.join(REPO_ROOT, "package.json")).dependencies["@pulumi/pulumi"]}`;

/** scripts/engine/offline.env, the one place the offline settings are written. */
export function offlineEnv(): Record<string, string> {
    const lines = fs.readFileSync(path.join(REPO_ROOT, "scripts", "engine", "offline.env"), "utf8").split("\n");
    return Object.fromEntries(lines.filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

/** Where build.sh puts the engine (HERO_ENGINE_CACHE as in scripts/engine/env.sh). */
export function engineCacheBin(): string {
    const cache = process.env.HERO_ENGINE_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "hero-os-grid-deployer", "engine");
    return path.join(cache, `pulumi-${PULUMI_VERSION}`, "bin");
}

/** Whether the engine has been built (`npm run engine`). */
export function engineBuilt(): boolean {
    return fs.existsSync(path.join(engineCacheBin(), "pulumi"));
}

let prepared: { bin: string; plugins: string } | undefined;

/**
 * This process's engine directories. `bin`: the built CLI (a hard link, so the CLI
 * finds its bundled plugins next to itself), its dynamic-provider launcher and our
 * language host. `plugins`: the command, tls and random stand-ins, which the CLI
 * takes from PATH (it warns "using pulumi-resource-… from $PATH" on each run).
 */
export function engineDirs(): { bin: string; plugins: string } {
    if (prepared) return prepared;
    const from = engineCacheBin();
    if (!engineBuilt()) throw new Error(`the engine is not built (${from}); run npm run engine`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hero-engine-"));
    process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
    const bin = path.join(dir, "bin");
    const plugins = path.join(dir, "plugins");
    fs.mkdirSync(bin);
    fs.mkdirSync(plugins);
    try {
        fs.linkSync(path.join(from, "pulumi"), path.join(bin, "pulumi"));
    } catch {
        fs.copyFileSync(path.join(from, "pulumi"), path.join(bin, "pulumi"));
        fs.chmodSync(path.join(bin, "pulumi"), 0o755);
    }
    fs.copyFileSync(path.join(from, "pulumi-resource-pulumi-nodejs"), path.join(bin, "pulumi-resource-pulumi-nodejs"));
    fs.chmodSync(path.join(bin, "pulumi-resource-pulumi-nodejs"), 0o755);
    const script = (file: string, body: string) => fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    script(path.join(bin, "pulumi-language-nodejs"), `exec ${q(process.execPath)} ${q(path.join(__dirname, "langhost.js"))} "$@"`);
    for (const pkg of ["command", "tls", "random"]) {
        script(
            path.join(plugins, `pulumi-resource-${pkg}`),
            `TS_NODE_PROJECT=${q(path.join(REPO_ROOT, "tsconfig.json"))} exec ${q(process.execPath)} -r ts-node/register/transpile-only ${q(path.join(__dirname, "plugins.ts"))} "$@"`,
        );
    }
    prepared = { bin, plugins };
    return prepared;
}

export interface CliResult {
    code: number;
    stdout: string;
    stderr: string;
}

export interface RunOptions {
    cwd: string;
    env: NodeJS.ProcessEnv;
    input?: string;
    timeoutMs?: number;
    /** Aborting kills the CLI and every process it started (its process group) with SIGKILL: a machine that died. */
    signal?: AbortSignal;
    /** Runs the CLI through another command (the bench's CPU and write measurements): the argv to start, given pulumi's. */
    wrap?: (argv: string[]) => string[];
}

/** Runs `pulumi <args>` with `env` and optional stdin, in its own process group; never rejects on a non-zero exit. */
export function runPulumi(args: string[], o: RunOptions): Promise<CliResult> {
    return new Promise((resolve, reject) => {
        const [file, ...argv] = o.wrap ? o.wrap(["pulumi", ...args]) : ["pulumi", ...args];
        const child = spawn(file, argv, { cwd: o.cwd, env: o.env, stdio: ["pipe", "pipe", "pipe"], detached: true });
        const killGroup = () => {
            try {
                process.kill(-child.pid!, "SIGKILL");
            } catch {
                // already gone
            }
            // The CLI starts each plugin in a process group of its own: they outlive the CLI's
            // group (a dynamic-provider host left so spun at 40% of a core, growing past 2 GB).
            // Everything working in the project directory goes too, as with a machine going down.
            killWorkingIn(o.cwd);
        };
        o.signal?.addEventListener("abort", killGroup, { once: true });
        let stdout = "";
        let stderr = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
        child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
        const timer = setTimeout(killGroup, o.timeoutMs ?? 300_000);
        child.on("error", reject);
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
        });
        child.stdin.end(o.input ?? "");
    });
}

/** SIGKILLs every process of this user whose working directory is `dir` (Linux: /proc/<pid>/cwd). */
export function killWorkingIn(dir: string): void {
    const want = fs.realpathSync(dir);
    for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
        try {
            if (fs.readlinkSync(`/proc/${pid}/cwd`) === want && Number(pid) !== process.pid) process.kill(Number(pid), "SIGKILL");
        } catch {
            // gone, or not ours
        }
    }
}

/** The engine's version line, for the README's claim and the tests' logs. */
export function engineVersion(): string {
    return execFileSync(path.join(engineCacheBin(), "pulumi"), ["version"], { encoding: "utf8" }).trim();
}
