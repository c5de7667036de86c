/**
 * The parent side of a rehearsal: runs one `up`, `preview` or `destroy` of a
 * program in a child process (ts-node, CommonJS) and returns what happened.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ChildArgs } from "./child";
import type { Op } from "./engine";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

export interface RunResult {
    ok: boolean;
    errors: string[];
    ops: Op[];
    /** Each SSH command run: the resource and `ssh user@host:port: <first line>`. */
    commands: { urn: string; line: string }[];
    /** The stack outputs, secrets unwrapped. */
    outputs: Record<string, any>;
    unhandled: number;
    ms: number;
    maxRssMb: number;
    /** CPU ms of the run's deployer side: the engine and program, the dynamic-provider host, the ssh and sftp clients (Linux). */
    cpuMs?: number;
    /** Steps persisted, and what a file backend would have written: the state's size after each, summed. */
    checkpoint: { steps: number; bytes: number };
    /** The child's stderr (the program's and host's logs). */
    stderr: string;
}

export interface RehearsalOptions {
    /** The program's main module, relative to the repo or absolute. @default "index.ts" */
    program?: string;
    /** The state file kept between runs. */
    stateFile: string;
    /** Stack config, un-namespaced keys. */
    config: Record<string, string>;
    secretKeys?: string[];
    /** @default "rehearsal" */
    stack?: string;
    env?: NodeJS.ProcessEnv;
    /** The child is killed after this long (a hung run fails the test instead of hanging it). @default 240000 */
    timeoutMs?: number;
}

/** One run. Resolves with the result even when the run failed (`ok: false`); rejects only when the child crashed. */
export async function rehearse(mode: ChildArgs["mode"], o: RehearsalOptions): Promise<RunResult> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rehearsal-run-"));
    const args: ChildArgs = {
        program: path.resolve(REPO_ROOT, o.program ?? "index.ts"),
        mode,
        stateFile: o.stateFile,
        resultFile: path.join(dir, "result.json"),
        project: "hero-os-grid-deployer",
        stack: o.stack ?? "rehearsal",
        config: o.config,
        secretKeys: o.secretKeys ?? [],
    };
    fs.writeFileSync(path.join(dir, "args.json"), JSON.stringify(args));
    try {
        const stderr = await new Promise<string>((resolve, reject) => {
            execFile(
                process.execPath,
                ["-r", "ts-node/register/transpile-only", path.join(__dirname, "child.ts"), path.join(dir, "args.json")],
                { cwd: REPO_ROOT, env: { ...process.env, TS_NODE_PROJECT: path.join(REPO_ROOT, "tsconfig.json"), ...o.env }, maxBuffer: 256 << 20, timeout: o.timeoutMs ?? 240_000 },
                (err, _stdout, stderr) => (fs.existsSync(args.resultFile) ? resolve(stderr) : reject(new Error(`rehearsal child failed: ${err?.message}\n${stderr}`))),
            );
        });
        return { ...JSON.parse(fs.readFileSync(args.resultFile, "utf8")), stderr };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Ops of one kind, optionally only those whose name starts with `prefix`. */
export function opsOf(r: RunResult, op: Op["op"], prefix = ""): Op[] {
    return r.ops.filter((x) => x.op === op && x.name.startsWith(prefix));
}
