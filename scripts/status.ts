/**
 * `npm run status -- [--stack <name>] [--json] [--timeout <seconds>] [--ca-file <pem>]`
 *
 * A read-only health table of every environment in the stack: expiry, the VM's
 * live state and node (Hero Compute `get_vm`), the gateway URL over HTTPS with a
 * valid certificate, the front door (the cockpit asked without a session must be refused
 * or sent to this environment's Forge login, which must answer: scripts/lib/door.ts),
 * and the last bootstrap's result from the outputs. Exit code 0 when every environment is healthy, 1 when any is not (or
 * the outputs could not be read), 2 on a bad command line. It reads the plain
 * `environments` output only: no secret is requested, read or printed.
 */
import { parseFlags, processIo, runCommand, timeoutSeconds, type CommandIo } from "./lib/command";
import { assess, renderTable, statusJson, summaryLine, type EnvironmentHealth } from "./lib/health";
import { doorExpect, judgeDoor } from "./lib/door";
import { probeDoor, probeForge, probeHttps, probeVm, type ProbeOptions } from "./lib/probes";
import { environmentsOutput, stackBinding } from "./lib/project";
import { printable, printableDeep } from "./lib/terminal";
import { readStackOutputs, resolveStack, shortStackName } from "./lib/pulumi-cli";

export const STATUS_USAGE = [
    "usage: npm run status -- [--stack <name>] [--json] [--timeout <seconds>] [--ca-file <pem>]",
    "  Probes every environment of the stack and prints a health table; exit 1 when any is unhealthy.",
    "  --json       one JSON document on stdout instead of the table",
    "  --timeout    seconds each probe may take (default 10)",
    "  --ca-file    extra CA certificates (PEM) trusted for the gateway's HTTPS, e.g. a private CA",
].join("\n");

/** Environments probed at once (each with its three probes in parallel). */
export const PROBE_CONCURRENCY = 8;

export interface StatusOptions {
    /** Colour the table (stdout is a terminal and NO_COLOR is unset). */
    colour: boolean;
    /** Progress updates on a terminal: each line replaces the last; null when stderr is no terminal. */
    progress: ((line: string) => void) | null;
    /** Today, YYYY-MM-DD (UTC). @default the current date */
    today?: string;
}

interface StatusArgs {
    stack?: string;
    json: boolean;
    help: boolean;
    probe: Omit<ProbeOptions, "binding">;
}

export function parseStatusArgs(argv: readonly string[]): StatusArgs {
    const v = parseFlags(argv, {
        stack: { type: "string", short: "s" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        timeout: { type: "string" },
        "ca-file": { type: "string" },
        // Tests only: send every HTTPS probe to host:port, keeping the URL's name for SNI and Host.
        "connect-to": { type: "string" },
    });
    const timeout = timeoutSeconds(v);
    return {
        stack: v.stack as string | undefined,
        json: v.json === true,
        help: v.help === true,
        probe: { timeoutMs: timeout * 1000, caFile: v["ca-file"] as string | undefined, connectTo: v["connect-to"] as string | undefined },
    };
}

/** Runs `fn` over `items`, at most `limit` at a time, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
    const out: R[] = new Array(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const i = next++;
            out[i] = await fn(items[i]);
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return out;
}

export async function status(argv: readonly string[], rawIo: CommandIo, opts: StatusOptions): Promise<number> {
    // The table's own colours are the only escape codes it prints: its cells and every stderr line are made printable.
    const io: CommandIo = { ...rawIo, err: (line) => rawIo.err(printable(line)) };
    return runCommand("status", STATUS_USAGE, io, async () => {
        const args = parseStatusArgs(argv);
        if (args.help) {
            io.out(STATUS_USAGE);
            return 0;
        }
        const stack = await resolveStack(io.pulumi, args.stack);
        // Never --show-secrets: the credentials output stays "[secret]" and is not looked at.
        const environments = environmentsOutput(await readStackOutputs(io.pulumi, stack, false));
        const names = Object.keys(environments).sort();
        const probe: ProbeOptions = { ...args.probe, binding: stackBinding(io.projectDir, shortStackName(stack)) };
        const today = opts.today ?? new Date().toISOString().slice(0, 10);
        const seconds = args.probe.timeoutMs / 1000;
        if (opts.progress) opts.progress(`status: probing ${names.length} environments…`);
        else io.err(`status: probing ${names.length} environment${names.length === 1 ? "" : "s"} of stack ${shortStackName(stack)} (${seconds}s timeout per probe)`);
        let done = 0;
        const rows: EnvironmentHealth[] = await mapLimit(names, PROBE_CONCURRENCY, async (name) => {
            const env = environments[name];
            const expected = doorExpect(env);
            const [vm, gateway, cockpit] = await Promise.all([
                probeVm(env.computeEndpoint, env.vmId, name, probe),
                probeHttps(env.gatewayFqdn ? `https://${env.gatewayFqdn}/` : "", probe),
                probeDoor(env.cockpitUrl ?? "", expected?.authorizeUrl, probe),
            ]);
            // Locked: then the Forge must answer where the door sends.
            const door = judgeDoor(cockpit, expected);
            const forge = door.state === "locked" && door.loginUrl ? await probeForge(door.loginUrl, probe) : undefined;
            done++;
            opts.progress?.(`status: probed ${done}/${names.length} environments`);
            return assess(name, env, { vm, gateway, cockpit, forge }, today);
        });
        opts.progress?.("");
        if (args.json) {
            io.out(statusJson(shortStackName(stack), new Date().toISOString(), rows));
        } else if (rows.length === 0) {
            io.out(printable(`Stack ${shortStackName(stack)} has no environments yet.`));
        } else {
            // Outputs (the bootstrap line a VM's root can write) and Hero Compute's answers come from outside.
            const shown = rows.map(printableDeep);
            for (const line of renderTable(shown, opts.colour)) io.out(line);
            io.out("");
            io.out(summaryLine(shown));
        }
        return rows.every((r) => r.healthy) ? 0 : 1;
    });
}

if (require.main === module) {
    const tty = process.stderr.isTTY === true;
    const progress = tty ? (line: string) => process.stderr.write(`\r\u001b[2K${line}`) : null;
    const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
    void status(process.argv.slice(2), processIo(), { colour, progress }).then((code) => {
        process.exitCode = code;
    });
}
