/** What the admin commands share: their I/O, argument parsing and error reporting. */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { spawnPulumi, type PulumiRunner } from "./pulumi-cli";

export interface CommandIo {
    /** The directory holding Pulumi.yaml. */
    projectDir: string;
    pulumi: PulumiRunner;
    /** One line to standard output. */
    out(line: string): void;
    /** One line to standard error. */
    err(line: string): void;
}

/**
 * The project directory, found as the Pulumi CLI finds it: the nearest directory
 * holding a Pulumi.yaml, from `from` up (npm runs scripts from the repository's
 * root); this repository when there is none.
 */
export function findProjectDir(from: string): string {
    for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
        if (path.dirname(dir) === dir) return path.resolve(__dirname, "..", "..");
    }
}

/** The real I/O: the project directory of the working directory, the `pulumi` on PATH, the process's streams. */
export function processIo(): CommandIo {
    const projectDir = findProjectDir(process.cwd());
    return {
        projectDir,
        pulumi: spawnPulumi(projectDir),
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
    };
}

/** A refusal of the command line itself: printed with the usage, exit code 2. */
export class UsageError extends Error {}

/** The values of a command line of `--options` only. */
export type Flags = Record<string, string | boolean | undefined>;

/**
 * Parses a command line of options only (no positionals). Unknown options and
 * string options given as empty text are refused as a UsageError.
 */
export function parseFlags(argv: readonly string[], options: Record<string, { type: "string" | "boolean"; short?: string }>): Flags {
    let values: Flags;
    try {
        values = parseArgs({ args: [...argv], options, allowPositionals: false, strict: true }).values as Flags;
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
    for (const [k, o] of Object.entries(options)) {
        if (o.type === "string" && values[k] !== undefined && String(values[k]).trim() === "") throw new UsageError(`--${k} needs a value`);
    }
    return values;
}

/** `--timeout`, in seconds per probe: 10 unless given, refused outside (0, 300]. */
export function timeoutSeconds(values: Flags): number {
    const timeout = values.timeout === undefined ? 10 : Number(values.timeout);
    if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 300) throw new UsageError(`--timeout wants seconds between 0 and 300, not ${JSON.stringify(values.timeout)}`);
    return timeout;
}

type BooleanOptions<B extends string> = { [K in B]: boolean };

/**
 * Parses `<username> [--stack <name>] [flags]`. Exactly one username; unknown
 * options are refused (so a typo never runs a destroy with defaults).
 */
export function parseCommandLine<B extends string>(
    argv: readonly string[],
    flags: readonly B[],
): { username: string; stack?: string; help: boolean } & BooleanOptions<B> {
    const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
        stack: { type: "string", short: "s" },
        help: { type: "boolean", short: "h" },
    };
    for (const f of flags) {
        options[f] = { type: "boolean" };
    }
    let parsed: ReturnType<typeof parseArgs>;
    try {
        parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
    const values = parsed.values as Record<string, string | boolean | undefined>;
    const result = { help: values.help === true, stack: values.stack as string | undefined } as { username: string; stack?: string; help: boolean } & BooleanOptions<B>;
    for (const f of flags) {
        (result as Record<string, unknown>)[f] = values[f] === true;
    }
    if (result.help) {
        return { ...result, username: "" };
    }
    if (parsed.positionals.length === 0) {
        throw new UsageError("no username given");
    }
    if (parsed.positionals.length > 1) {
        throw new UsageError(`one username at a time, not ${parsed.positionals.length} (${parsed.positionals.join(", ")})`);
    }
    const username = parsed.positionals[0];
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(username)) {
        throw new UsageError(`"${username}" is not a username`);
    }
    if (result.stack !== undefined && result.stack.trim() === "") {
        throw new UsageError("--stack needs a stack name");
    }
    return { ...result, username };
}

/** Runs a command body, turning every failure into one line on stderr and an exit code. */
export async function runCommand(name: string, usage: string, io: CommandIo, body: () => Promise<number>): Promise<number> {
    try {
        return await body();
    } catch (err) {
        if (err instanceof UsageError) {
            io.err(`${name}: ${err.message}`);
            io.err(usage);
            return 2;
        }
        io.err(`${name}: ${(err as Error).message}`);
        return 1;
    }
}
