/**
 * Runs index.ts under mocks in a child process (ts-node, CommonJS: Pulumi's own
 * runtime mode) and returns what it registered, its outputs and its log lines.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import type { Registration } from "./mock-program";

export type { Registration } from "./mock-program";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

export interface ProgramRun {
    registrations: Registration[];
    outputs: Record<string, any>;
    /** The program's error, as Pulumi would print it, if it failed. */
    error?: string;
    /** Everything else the program printed (pulumi.log lines land here under mocks). */
    log: string;
}

export const BASE_CONFIG = {
    forgeUrl: "https://forge.example.org",
    computeUrl: "http://127.0.0.1:9/rpc",
    namePrefix: "dev",
};

/**
 * Runs the program with `config` (un-namespaced keys) and returns what happened. The
 * bootstrap bundles go to a temp dir (bootstrapOverrides.bundleDir) unless `config` says.
 */
export async function runProgram(config: Record<string, string>, opts: { preview?: boolean; stack?: string; previousOutputs?: Record<string, unknown> } = {}): Promise<ProgramRun> {
    const bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), "program-bundles-"));
    try {
        return await runIn({ bootstrapOverrides: JSON.stringify({ bundleDir }), ...config }, opts);
    } finally {
        fs.rmSync(bundleDir, { recursive: true, force: true });
    }
}

async function runIn(config: Record<string, string>, opts: { preview?: boolean; stack?: string; previousOutputs?: Record<string, unknown> }): Promise<ProgramRun> {
    const namespaced = Object.fromEntries(Object.entries(config).map(([k, v]) => [`hero-os-grid-deployer:${k}`, v]));
    const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        ["-r", "ts-node/register/transpile-only", path.join("test", "support", "mock-program.ts")],
        {
            cwd: REPO_ROOT,
            maxBuffer: 256 << 20,
            env: {
                ...process.env,
                PULUMI_CONFIG: JSON.stringify(namespaced),
                MOCK_STACK: opts.stack ?? "dev",
                MOCK_PREVIEW: opts.preview ? "1" : "0",
                MOCK_PREVIOUS_OUTPUTS: JSON.stringify(opts.previousOutputs ?? {}),
                TS_NODE_PROJECT: path.join(REPO_ROOT, "tsconfig.json"),
            },
        },
    );
    const at = stdout.lastIndexOf("@@program@@");
    if (at < 0) {
        throw new Error(`the program printed no result:\n${stdout}\n${stderr}`);
    }
    const result = JSON.parse(stdout.slice(at + "@@program@@".length));
    return { ...result, log: stdout.slice(0, at) + stderr };
}
