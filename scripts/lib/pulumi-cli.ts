/**
 * The one place where the admin commands (teardown, handout) call the Pulumi CLI.
 * Tests replace `PulumiRunner` with a recorder, or put a fake `pulumi` first on PATH.
 */
import { spawn } from "child_process";

/** `capture`: stdout is returned (stderr still reaches the admin); `inherit`: the admin sees and answers everything. */
export type RunMode = "capture" | "inherit";

export interface RunResult {
    /** The exit code; a signal counts as 1. */
    code: number;
    /** Standard output in `capture` mode, "" in `inherit` mode. */
    stdout: string;
}

/** Runs `pulumi <args>` in the project directory. */
export type PulumiRunner = (args: readonly string[], mode: RunMode) => Promise<RunResult>;

/** The real runner: spawns `pulumi` from PATH (of `env`, default this process's), never through a shell. */
export function spawnPulumi(projectDir: string, env: NodeJS.ProcessEnv = process.env): PulumiRunner {
    return (args, mode) =>
        new Promise((resolve, reject) => {
            const child = spawn("pulumi", [...args], {
                cwd: projectDir,
                env,
                stdio: mode === "capture" ? ["inherit", "pipe", "inherit"] : "inherit",
            });
            const chunks: Buffer[] = [];
            child.stdout?.on("data", (chunk: Buffer) => chunks.push(chunk));
            child.on("error", (err: NodeJS.ErrnoException) => {
                reject(
                    err.code === "ENOENT"
                        ? new Error("the pulumi CLI is not on PATH; install it (see the README) and try again")
                        : new Error(`could not start pulumi: ${err.message}`),
                );
            });
            child.on("close", (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(chunks).toString("utf8") }));
        });
}

/** A command line as the admin would type it: arguments with shell metacharacters are single-quoted. */
export function formatCommand(argv: readonly string[]): string {
    return argv.map((a) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}

/** Runs a read-only pulumi command and returns its stdout, or throws naming the command. */
async function capture(run: PulumiRunner, args: string[]): Promise<string> {
    const { code, stdout } = await run(args, "capture");
    if (code !== 0) {
        throw new Error(`\`${formatCommand(["pulumi", ...args])}\` failed (exit ${code}); see its message above`);
    }
    return stdout;
}

/** The stack to work on: `--stack` as given, else the selected one (`pulumi stack --show-name`). */
export async function resolveStack(run: PulumiRunner, given: string | undefined): Promise<string> {
    if (given !== undefined) {
        return given;
    }
    const name = (await capture(run, ["stack", "--show-name"])).trim();
    if (name === "") {
        throw new Error("no stack is selected; pass --stack <name> or run `pulumi stack select <name>`");
    }
    return name;
}

/**
 * The stack's outputs, `pulumi stack output --json`. Without `showSecrets` secret
 * outputs arrive as the text "[secret]" and their values never enter this process.
 */
export async function readStackOutputs(run: PulumiRunner, stack: string, showSecrets: boolean): Promise<Record<string, unknown>> {
    const args = ["stack", "output", "--json", "--stack", stack, ...(showSecrets ? ["--show-secrets"] : [])];
    const text = await capture(run, args);
    let parsed: unknown;
    try {
        parsed = JSON.parse(text.trim() === "" ? "{}" : text);
    } catch {
        throw new Error(`\`${formatCommand(["pulumi", ...args])}\` printed something that is not JSON`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new Error(`\`${formatCommand(["pulumi", ...args])}\` printed JSON that is not an object`);
    }
    return parsed as Record<string, unknown>;
}

/** The stack's short name (`org/project/dev` → `dev`), as it appears in URNs and in `Pulumi.<stack>.yaml`. */
export function shortStackName(stack: string): string {
    return stack.split("/").pop() ?? stack;
}
