/**
 * `npm run bench`: what one stack costs as users grow. Prints tables; with `--json` it
 * ends with one JSON line. It is not a test and asserts nothing. Each measurement runs
 * in its own child process (ts-node, CommonJS, as `pulumi up` runs the program), so
 * memory figures are that child's peak RSS. Every bench user has two optional services.
 *
 * Parts (`--only <part>` runs one):
 * - program: the preview of the real index.ts under mocks for 10, 100, 300 users
 *   (`--users`), against the bare SDK registering the same resource set (same types,
 *   names, parents and declared properties; trivial values) in the same runtime and mode:
 *   wall time and CPU time; as diagnostics, the same set through the provider SDKs'
 *   classes (evaluateClasses), the bare SDK with only the properties that have values
 *   (the previous baseline), and the bare SDK yielding after each user as the program does.
 * - state: registered inputs per user, measured in an `up` evaluation under mocks
 *   (canned outputs with the gateway's url, so every step's stdin is rendered; the
 *   preflight answered by the compute fake); provider text per resource type; and
 *   state per user (inputs + outputs, provider copies in both) from the real state
 *   file after a 1-user `pulumi up` under the real CLI.
 * - parallel: `pulumi up` wall time under the real CLI for 20 users against 1, with
 *   the compute fake's provisioning delay at 10 s and computeConcurrency 3, and the
 *   CPU of the CLI's whole process tree; again with thin fake VMs (a diagnostic:
 *   they answer the steps without running them, see World.start).
 * - checkpoint: the bytes the real file backend writes during a 20-user `pulumi up`
 *   (strace of the CLI's process tree); for 100 users computed under mocks (see
 *   checkpointBytes in scripts/lib/bench-eval.ts).
 * - preview: `pulumi preview` of 100 users (`--preview-users`) under the real CLI,
 *   the program against a bare program of the same resource shapes.
 *
 * Usage: npm run bench [-- --json] [--only program|state|parallel|checkpoint|preview] [--users 10,100,300] [--preview-users 100] [--repeat N]
 * (`--repeat N`: the program part takes the best of N runs each of the program and the
 * bare SDK, taking turns, which a shared machine's other load disturbs less.)
 * Internal: scripts/bench.ts --part program|shape|bare|bareSet|bareEach|classes|up|rehearsal ...
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BENCH_SERVICES, evaluateBare, evaluateClasses, evaluateProgram } from "./lib/bench-eval";
import { partRehearsal, partUp, summarize, type Summary } from "./lib/bench-parts";
import { previewBoth } from "./lib/bench-preview";

const REPO = path.resolve(__dirname, "..");
const PARTS = ["program", "state", "parallel", "checkpoint", "preview"] as const;
type Part = (typeof PARTS)[number];

// ------------------------------------------------------------------ driver

function child(args: string[]): Promise<any> {
    return new Promise((resolve, reject) => {
        execFile(
            process.execPath,
            ["--max-old-space-size=6144", "-r", "ts-node/register/transpile-only", __filename, ...args],
            { cwd: REPO, maxBuffer: 64 << 20, env: { ...process.env, TS_NODE_PROJECT: path.join(REPO, "tsconfig.json") } },
            (err, stdout, stderr) => {
                const at = stdout.lastIndexOf("@@bench@@");
                if (at < 0) return reject(new Error(`bench part ${args.join(" ")} failed: ${err?.message}\n${stderr.slice(-3000)}`));
                resolve(JSON.parse(stdout.slice(at + 9)));
            },
        );
    });
}

const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
const round = (x: number, d = 2) => Number(x.toFixed(d));

async function runProgram(counts: number[], repeat: number): Promise<unknown[]> {
    console.log("## Program: preview under mocks (evaluation + registration), against the bare SDK in the same runtime and mode\n");
    console.log("Bare SDK: the same types, names, parents and declared properties (set or not, as the classes pass them), trivial values, all users in one loop.");
    console.log(`Each figure is the best of ${repeat} run(s), taking turns; CPU is user + system time of the evaluation (GC threads included).\n`);
    console.log("| users | resources | program s | program CPU s | program peak MB | bare SDK s | bare CPU s | bare peak MB | time ratio | CPU ratio |");
    console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    const rows = [];
    const diagnostics: string[] = [];
    // Untimed: one user's resources with every declared property (a stack transformation).
    const { shape }: Summary = await child(["--part", "shape", "1"]);
    const best = (xs: Summary[]) => ({ ...xs[0], ms: Math.min(...xs.map((x) => x.ms)), cpuMs: Math.min(...xs.map((x) => x.cpuMs)), maxRssMb: Math.max(...xs.map((x) => x.maxRssMb)) });
    for (const n of counts) {
        const ps: Summary[] = [];
        const bs: Summary[] = [];
        for (let i = 0; i < repeat; i++) {
            ps.push(await child(["--part", "program", String(n)]));
            bs.push(await child(["--part", "bare", String(n), JSON.stringify(shape)]));
        }
        const [p, b] = [best(ps), best(bs)];
        const c: Summary = await child(["--part", "classes", String(n), JSON.stringify(shape)]);
        const set: Summary = await child(["--part", "bareSet", String(n), JSON.stringify(p.shape)]);
        const each: Summary = await child(["--part", "bareEach", String(n), JSON.stringify(shape)]);
        const s = (ms: number) => (ms / 1000).toFixed(2);
        const r = (x: Summary) => `${s(x.cpuMs)} s, ${(p.cpuMs / x.cpuMs).toFixed(2)}`;
        console.log(`| ${n} | ${p.resources} | ${s(p.ms)} | ${s(p.cpuMs)} | ${p.maxRssMb} | ${s(b.ms)} | ${s(b.cpuMs)} | ${b.maxRssMb} | ${(p.ms / b.ms).toFixed(2)} | ${(p.cpuMs / b.cpuMs).toFixed(2)} |`);
        diagnostics.push(`| ${n} | ${r(c)} | ${r(set)} | ${r(each)} |`);
        rows.push({
            users: n, resources: p.resources, programMs: Math.round(p.ms), bareMs: Math.round(b.ms), ratio: round(p.ms / b.ms),
            programCpuMs: Math.round(p.cpuMs), bareCpuMs: Math.round(b.cpuMs), cpuRatio: round(p.cpuMs / b.cpuMs), runs: repeat,
            programPeakMb: p.maxRssMb, barePeakMb: b.maxRssMb,
            classesCpuMs: Math.round(c.cpuMs), cpuRatioToClasses: round(p.cpuMs / c.cpuMs),
            bareSetOnlyCpuMs: Math.round(set.cpuMs), cpuRatioToSetOnly: round(p.cpuMs / set.cpuMs),
            bareEachCpuMs: Math.round(each.cpuMs), cpuRatioToBareEach: round(p.cpuMs / each.cpuMs),
        });
    }
    console.log("\nDiagnostics, one run each: the program's CPU against other registrations of the same set (their CPU s, the program's CPU ratio to them).");
    console.log("Classes: through tls, random, command and pulumi.dynamic's classes, constant inputs. Set only: the bare SDK with only the properties that have values (the previous baseline).");
    console.log("One user at a time: the bare SDK yielding after each user, as the program does (buildEach).\n");
    console.log("| users | provider classes | bare, set properties only | bare, one user at a time |");
    console.log("|---:|---|---|---|");
    for (const line of diagnostics) console.log(line);
    return rows;
}

async function runState(): Promise<Record<string, unknown>> {
    console.log("\n## State per user (two optional services each)\n");
    const up: Summary = await child(["--part", "up", "10"]);
    const perUser = Object.values(up.firstUser).reduce((a, b) => a + b, 0);
    const [r]: any[] = await child(["--part", "rehearsal", "1", "0"]);
    if (!r.ok) throw new Error(`the state rehearsal failed: ${r.errors.join("; ")}`);
    console.log(`- resources per user: ${up.shape.filter((s) => s.role !== "").length + 1}`);
    console.log(`- registered inputs per user, in an up evaluation of ${up.users} users: ${kb(perUser)} (${Object.entries(up.firstUser).map(([k, v]) => `${k} ${v}`).join(", ")})`);
    console.log(`- serialized provider text per resource: ${Object.entries(up.providerBytesPerResource).map(([t, b]) => `${t} ${kb(b)}`).join(", ")}`);
    console.log(`- state per user from a real 1-user rehearsal (the user's resources, inputs + outputs, provider copies in both): ${kb(r.stateBytes)}, of which provider text ${kb(r.providerBytes)}, step stdout and stderr ${r.stdoutBytes} bytes`);
    return { inputBytesPerUser: Math.round(perUser), stateBytesPerUser: r.stateBytes, providerBytesPerResource: up.providerBytesPerResource };
}

async function runParallel(): Promise<Record<string, unknown>> {
    console.log("\n## Parallelism: rehearsal wall time, compute provisioning delay 10 s, computeConcurrency 3\n");
    const full: any[] = await child(["--part", "rehearsal", "1,20", "10000"]);
    const thin: any[] = await child(["--part", "rehearsal", "1,20", "10000", "thin"]);
    console.log("CPU: the deployer's side (engine and program, dynamic-provider host, ssh and sftp clients) and the fake VMs' (their sshds and sessions:");
    console.log(`the steps' scripts, the stub Hero tools, curl), all on this machine's ${os.cpus().length} cores; on a grid each VM's work runs on that VM.`);
    console.log("Thin VMs (a diagnostic): the same rehearsal, but the fake VMs answer every step except the host-key ones without running it.\n");
    console.log("| VMs | users | ok | wall s | deployer CPU s | fake VMs CPU s | creates | VMs deploying at once | changing calls at once (cap 3) |");
    console.log("|---|---:|---|---:|---:|---:|---:|---:|---:|");
    const cpu = (ms?: number) => (ms === undefined ? "n/a" : (ms / 1000).toFixed(1));
    for (const [label, r] of [["full", full], ["thin", thin]] as const) {
        for (const x of r) console.log(`| ${label} | ${x.users} | ${x.ok ? "yes" : `NO: ${x.errors.join("; ")}`} | ${(x.ms / 1000).toFixed(1)} | ${cpu(x.deployerCpuMs)} | ${cpu(x.vmCpuMs)} | ${x.creates} | ${x.maxInFlight} | ${x.maxChangingCalls} |`);
    }
    const ratio = (r: any[]) => r[1].ms / r[0].ms;
    console.log(`\nratio 20 users / 1 user: ${ratio(full).toFixed(2)}; with thin VMs ${ratio(thin).toFixed(2)} (the grid's limit is close to 1)`);
    const figures = (r: any[]) => ({ oneUserMs: r[0].ms, manyUsersMs: r[1].ms, ratio: round(ratio(r)), ok: r.every((x) => x.ok), deployerCpuMs: r.map((x) => x.deployerCpuMs), vmCpuMs: r.map((x) => x.vmCpuMs) });
    return {
        users: 20, provisionSeconds: 10, ...figures(full), cores: os.cpus().length,
        vmsDeployingAtOnce: full[1].maxInFlight, changingCallsAtOnce: full[1].maxChangingCalls, thinVms: figures(thin),
    };
}

async function runCheckpoint(): Promise<Record<string, unknown>> {
    console.log("\n## Checkpoint: bytes the real file backend writes during one up of 20 users\n");
    const [real]: any[] = await child(["--part", "rehearsal", "20", "0", "full", "writes"]);
    if (!real.ok) throw new Error(`the checkpoint run failed: ${real.errors.join("; ")}`);
    const m100: Summary = await child(["--part", "up", "100"]);
    const w = real.writes;
    const total = Object.values<number>(w.bytes).reduce((a, b) => a + b, 0);
    console.log("Measured: every write under the backend's .pulumi/ during `pulumi up`, traced with strace (pulumi's process tree).\n");
    console.log("| users | checkpoint saves | checkpoint bytes | history + backups + locks bytes | final state file | per user |");
    console.log("|---:|---:|---:|---:|---:|---:|");
    console.log(`| 20 | ${w.stackSaves} | ${mb(w.bytes.stacks ?? 0)} | ${mb(total - (w.bytes.stacks ?? 0))} | ${mb(real.stateFileBytes)} | ${kb(real.stateFileBytes / 20)} |`);
    console.log(`\nFor 100 users the real run is not made here (100 fake VMs with their sshds); computed under mocks, in registration order: ${m100.checkpoint.steps} steps, ${mb(m100.checkpoint.bytes)} written, final state ${mb(m100.checkpoint.finalBytes)} (no secrets encryption: a lower bound).`);
    return {
        users20: { stackSaves: w.stackSaves, bytesByKind: w.bytes, totalBytes: total, finalStateFileBytes: real.stateFileBytes, ms: real.ms },
        users100: { computedBytes: m100.checkpoint.bytes, steps: m100.checkpoint.steps, finalStateBytes: m100.checkpoint.finalBytes },
        method: "20 users: strace of the real CLI's process tree, bytes written under <backend>/.pulumi/; 100 users: computed under mocks",
    };
}

async function runPreview(counts: number[]): Promise<unknown[]> {
    console.log("\n## Preview under the real CLI: the program against a bare program of the same shapes\n");
    console.log("Bare: the same types, names, parents and declared properties, trivial values, a do-nothing dynamic provider; same engine, language host and ts-node.");
    console.log("CPU: the CLI's whole process tree (engine, language host and program, plugins, dynamic-provider host).\n");
    console.log("| users | steps | program s | program CPU s | bare s | bare CPU s | time ratio | CPU ratio |");
    console.log("|---:|---:|---:|---:|---:|---:|---:|---:|");
    const { shape }: Summary = await child(["--part", "shape", "1"]);
    const rows = [];
    for (const n of counts) {
        const { program: p, bare: b } = await child(["--part", "preview", String(n), JSON.stringify(shape)]);
        if (!p.ok || !b.ok) throw new Error(`the ${n}-user preview failed: program: ${p.errors.join("; ")}; bare: ${b.errors.join("; ")}`);
        const s = (ms?: number) => (ms === undefined ? "n/a" : (ms / 1000).toFixed(1));
        console.log(`| ${n} | ${p.steps} | ${s(p.ms)} | ${s(p.cpuMs)} | ${s(b.ms)} | ${s(b.cpuMs)} | ${(p.ms / b.ms).toFixed(2)} | ${p.cpuMs && b.cpuMs ? (p.cpuMs / b.cpuMs).toFixed(2) : "n/a"} |`);
        rows.push({ users: n, steps: p.steps, programMs: p.ms, programCpuMs: p.cpuMs, bareMs: b.ms, bareCpuMs: b.cpuMs, ratio: round(p.ms / b.ms), cpuRatio: p.cpuMs && b.cpuMs ? round(p.cpuMs / b.cpuMs) : undefined });
    }
    return rows;
}

async function driver(argv: string[]): Promise<void> {
    const flag = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
    const only = flag("--only") as Part | undefined;
    if (only && !PARTS.includes(only)) throw new Error(`--only takes one of ${PARTS.join(", ")}, not ${JSON.stringify(only)}`);
    const counts = (flag("--users") ?? "10,100,300").split(",").map(Number);
    const repeat = Number(flag("--repeat") ?? 1);
    if (!(Number.isInteger(repeat) && repeat >= 1)) throw new Error(`--repeat takes a whole number of runs, not ${JSON.stringify(flag("--repeat"))}`);
    const t0 = Date.now();
    console.log(`# bench on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GB, node ${process.version}, ${os.platform()} ${os.release()}\n`);
    const json: Record<string, unknown> = {};
    const want = (p: Part) => !only || only === p;
    if (want("program")) json.program = await runProgram(counts, repeat);
    if (want("state")) json.state = await runState();
    if (want("parallel")) json.parallel = await runParallel();
    if (want("checkpoint")) json.checkpoint = await runCheckpoint();
    if (want("preview")) json.preview = await runPreview((flag("--preview-users") ?? "100").split(",").map(Number));
    console.log(`\n(bench took ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    if (argv.includes("--json")) console.log(JSON.stringify(json));
}

async function main(): Promise<void> {
    const argv = process.argv.slice(2);
    if (argv[0] !== "--part") return driver(argv);
    let result: unknown;
    if (argv[1] === "program") result = summarize(await evaluateProgram(Number(argv[2]), true));
    else if (argv[1] === "bare") result = summarize(await evaluateBare(Number(argv[2]), JSON.parse(argv[3]), true));
    else if (argv[1] === "shape") result = summarize(await evaluateProgram(Number(argv[2]), true, undefined, true));
    else if (argv[1] === "bareSet") result = summarize(await evaluateBare(Number(argv[2]), JSON.parse(argv[3]), true));
    else if (argv[1] === "bareEach") result = summarize(await evaluateBare(Number(argv[2]), JSON.parse(argv[3]), true, true));
    else if (argv[1] === "classes") result = summarize(await evaluateClasses(Number(argv[2]), JSON.parse(argv[3]), true));
    else if (argv[1] === "up") result = await partUp(Number(argv[2]));
    else if (argv[1] === "preview") result = await previewBoth(Number(argv[2]), JSON.parse(argv[3]), BENCH_SERVICES);
    else if (argv[1] === "rehearsal") result = await partRehearsal(argv[2].split(",").map(Number), Number(argv[3]), argv[4] === "thin", argv[5] === "writes" ? "writes" : "cpu");
    else throw new Error(`unknown part ${argv[1]}`);
    // Exit only once stdout has drained: a pipe's writes can still be queued, and
    // process.exit() would drop them (the 300-user part lost its result that way).
    await new Promise<void>((resolve) => process.stdout.write(`\n@@bench@@${JSON.stringify(result)}\n`, () => resolve()));
}

main().then(
    () => process.exit(),
    (err) => {
        process.stderr.write(`${err instanceof Error ? err.stack : err}\n`);
        process.exit(1);
    },
);
