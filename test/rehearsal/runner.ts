/**
 * One whole run of the program under the real `pulumi` CLI (test/engine/): `up`,
 * `preview`, `refresh` or `destroy` of a stack in a workspace, with the stack's
 * config written first, and what happened read back from the CLI's own JSON
 * event stream (`--json`), the stand-in plugins' command log and `pulumi stack output`.
 */
import * as fs from "fs";
import * as path from "path";
import { Workspace } from "../engine/workspace";

export { REPO_ROOT } from "../engine/cli";

/** What one resource step was, as the engine reported it. */
export interface Op {
    /** The engine's step: create, update, replace, create-replacement, delete-replaced, delete, same, read, refresh, … */
    op: string;
    urn: string;
    type: string;
    name: string;
    preview: boolean;
    /** The top-level properties the engine says differ (update and replace steps). */
    diffs?: string[];
}

export interface RunResult {
    ok: boolean;
    /** Each error the engine reported: `<resource name>: <message>`, or the message alone. */
    errors: string[];
    /** Resource steps in the order they started. */
    ops: Op[];
    /** Each SSH command and SFTP copy run: the resource and `ssh user@host:port: <first line>`. */
    commands: { urn: string; line: string }[];
    /** The stack outputs, secrets shown (empty after a preview). */
    outputs: Record<string, any>;
    ms: number;
    /** The CLI's stderr. */
    stderr: string;
    /** Warnings the engine reported, less the stand-in plugins' "from $PATH" and version notices. */
    warnings: string[];
}

export type Mode = "up" | "preview" | "refresh" | "destroy";

export interface RehearsalOptions {
    workspace: Workspace;
    /** @default "rehearsal" */
    stack?: string;
    /** Stack config, un-namespaced keys. */
    config: Record<string, string>;
    secretKeys?: string[];
    /** More CLI arguments (`--target <urn>`, `--refresh`, …). */
    args?: string[];
    env?: NodeJS.ProcessEnv;
    /** The CLI is killed after this long (a hung run fails the test instead of hanging it). @default 240000 */
    timeoutMs?: number;
    /** Aborting kills the CLI and everything it started, mid-run. */
    signal?: AbortSignal;
    /** Starts the CLI through another command (see runPulumi): the bench's measurements. */
    wrap?: (argv: string[]) => string[];
}

const VERB: Record<Mode, string[]> = {
    up: ["up", "--yes", "--skip-preview"],
    preview: ["preview"],
    refresh: ["refresh", "--yes", "--skip-preview"],
    destroy: ["destroy", "--yes", "--skip-preview"],
};

/** The stand-in plugins' notices on every run (see test/engine/plugins.ts). */
const STANDIN_NOTICE = /^(using pulumi-resource-(command|tls|random) from \$PATH|resource plugin (command|tls|random) is expected to have version)/;

/** One run. Resolves with the result even when the run failed (`ok: false`). */
export async function rehearse(mode: Mode, o: RehearsalOptions): Promise<RunResult> {
    const stack = o.stack ?? "rehearsal";
    const ws = o.workspace;
    await ws.writeConfig(stack, o.config, o.secretKeys ?? []);
    const log = path.join(ws.dir, `commands-${process.pid}-${Date.now()}.jsonl`);
    const started = Date.now();
    const r = await ws.pulumi([...VERB[mode], "--json", "--non-interactive", "--stack", stack, ...(o.args ?? [])], {
        env: { ...o.env, HERO_ENGINE_COMMAND_LOG: log },
        timeoutMs: o.timeoutMs ?? 240_000,
        signal: o.signal,
        wrap: o.wrap,
    });
    const ms = Date.now() - started;
    const commands = fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
    fs.rmSync(log, { force: true });
    const events = mode === "preview" ? previewEvents(r.stdout) : parseEvents(r.stdout);
    const errors = events.errors;
    if (r.code !== 0 && errors.length === 0) errors.push(`pulumi ${mode} exited ${r.code}: ${r.stderr.trim() || r.stdout.slice(-2000)}`);
    let outputs: Record<string, any> = {};
    if (mode !== "preview") {
        const out = await ws.pulumi(["stack", "output", "--json", "--show-secrets", "--stack", stack]);
        if (out.code === 0) outputs = JSON.parse(out.stdout || "{}");
    }
    return { ok: r.code === 0 && errors.length === 0, errors, ops: events.ops, commands, outputs, ms, stderr: r.stderr, warnings: events.warnings };
}

const nameOf = (urn: string) => urn.split("::").pop() ?? urn;
const typeOf = (urn: string) => urn.split("::")[2]?.split("$").pop() ?? "";

interface Parsed {
    ops: Op[];
    errors: string[];
    warnings: string[];
}

/** The event stream `up`, `refresh` and `destroy --json` print, one JSON object a line. */
export function parseEvents(stdout: string): Parsed {
    const p: Parsed = { ops: [], errors: [], warnings: [] };
    for (const line of stdout.split("\n")) {
        if (!line.startsWith("{")) continue;
        const e = JSON.parse(line);
        const pre = e.resourcePreEvent?.metadata;
        if (pre) p.ops.push({ op: pre.op, urn: pre.urn, type: typeOf(pre.urn), name: nameOf(pre.urn), preview: !!e.resourcePreEvent.planning, diffs: pre.diffs });
        const d = e.diagnosticEvent;
        if (d) diagnostic(p, d.severity, d.message, d.urn);
    }
    return p;
}

/** `preview --json`: one document with the steps and the diagnostics. */
export function previewEvents(stdout: string): Parsed {
    const p: Parsed = { ops: [], errors: [], warnings: [] };
    const start = stdout.indexOf("{");
    if (start < 0) return p;
    const doc = JSON.parse(stdout.slice(start));
    for (const s of doc.steps ?? []) p.ops.push({ op: s.op, urn: s.urn, type: typeOf(s.urn), name: nameOf(s.urn), preview: true, diffs: s.diffs });
    for (const d of doc.diagnostics ?? []) diagnostic(p, d.severity, d.message, d.urn);
    return p;
}

function diagnostic(p: Parsed, severity: string, message: string, urn?: string): void {
    const text = String(message).trim();
    if (severity === "error") p.errors.push(urn ? `${nameOf(urn)}: ${text}` : text);
    else if (severity === "warning" && !STANDIN_NOTICE.test(text)) p.warnings.push(urn ? `${nameOf(urn)}: ${text}` : text);
}

/**
 * The steps that change something: not `same`, and not the `read` of the stack's
 * reference to itself, which the engine reports on every run that makes it
 * (components/program.ts reads the last outputs when the prefix is the default).
 */
export function changes(r: RunResult): Op[] {
    return r.ops.filter((o) => o.op !== "same" && !(o.op === "read" && o.type === "pulumi:pulumi:StackReference"));
}

/** Ops of one kind, optionally only those whose name starts with `prefix`. */
export function opsOf(r: RunResult, op: string, prefix = ""): Op[] {
    return r.ops.filter((x) => x.op === op && x.name.startsWith(prefix));
}
