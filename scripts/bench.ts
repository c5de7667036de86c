/**
 * `npm run bench`: how the program's cost grows with users. Prints a table; it
 * is not a test and asserts nothing. Each measurement runs in its own child
 * process (ts-node, CommonJS, as `pulumi up` runs the program), so memory
 * figures are that child's peak RSS.
 *
 * 1. Program cost: the rehearsed program (test/rehearsal/world.ts PROGRAM) under mocks (canned outputs, no engine work) for
 *    10, 100, 1000 users, against a bare-SDK baseline that registers the same
 *    resource set (same types, names and parents) with trivial inputs.
 * 2. State cost: serialized provider code per user, and state-like bytes per user
 *    (inputs + outputs as Pulumi would store them, provider copies included),
 *    taken from a real rehearsal's state.
 * 3. Parallelism: rehearsal wall time for 20 users against 1 user, with the
 *    compute fake's provisioning delay at 2 s.
 *
 * Usage: npm run bench [-- --users 10,100,1000] [--skip-rehearsal]
 * Internal: scripts/bench.ts --part program|bare|rehearsal ...
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

const REPO = path.resolve(__dirname, "..");
const PROJECT = "hero-os-grid-deployer";

interface ProgramFigures {
    users: number;
    resources: number;
    ms: number;
    maxRssMb: number;
    /** Per type: how many per user (from the program run). */
    shape?: { type: string; name: string; parentRole: string | null; custom: boolean }[];
    providerBytes?: number;
    inputBytes?: number;
}

function usersYaml(n: number): string {
    const lines = ["users:"];
    for (let i = 0; i < n; i++) {
        const u = `u${String(i).padStart(4, "0")}`;
        lines.push(`  - username: ${u}`, `    email: ${u}@example.org`, `    fullName: User ${i}`);
    }
    return lines.join("\n") + "\n";
}

/** Canned outputs: enough for the program's applies, no real work. */
function canned(type: string, name: string, inputs: any): Record<string, unknown> {
    if (type === "tls:index/privateKey:PrivateKey") return { ...inputs, privateKeyOpenssh: `KEY ${name}`, publicKeyOpenssh: `ssh-ed25519 AAAA${name}\n` };
    if (type === "random:index/randomPassword:RandomPassword") return { ...inputs, result: `pw-${name}` };
    // The host-key steps print an ED25519 host key, which the program parses.
    if (type === "command:remote:Command") return { ...inputs, stdout: /-host-key(-check)?$/.test(name) ? "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJxlQR6ZTNIiAbIlRU0wc8JMlXUQNIsStaqoDB/X5igR" : "", stderr: "" };
    return { ...inputs, vmId: "v1", myceliumIp: "5a1::1", fqdn: `${name}.gw.test`, login: name, token: "t", nodeId: 1, computeEndpoint: "x" };
}

async function withMocks(preview: boolean, onNew: (a: pulumi.runtime.MockResourceArgs) => void): Promise<void> {
    await pulumi.runtime.setMocks(
        {
            newResource: (a) => {
                onNew(a);
                return { id: `${a.name}-id`, state: canned(a.type, a.name, a.inputs) };
            },
            call: () => ({}),
        },
        PROJECT,
        "bench",
        preview,
    );
}

async function settle(): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    await require("@pulumi/pulumi/runtime/settings").waitForRPCs();
}

/** Part 1a: the real program for `n` users. */
async function partProgram(n: number): Promise<ProgramFigures> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-"));
    fs.writeFileSync(path.join(dir, "users.yaml"), usersYaml(n));
    const regs: { type: string; name: string; inputs: any }[] = [];
    // As a preview: the same registrations, and the program's preflight (a network call) is skipped.
    await withMocks(true, (a) => regs.push({ type: a.type, name: a.name, inputs: a.inputs }));
    const config = { usersFile: path.join(dir, "users.yaml"), forgeUrl: "https://forge.example.org", computeUrl: "https://compute.example.org/rpc", namePrefix: "b", bootstrapOverrides: "{}" };
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`${PROJECT}:${k}`, v])), []);
    // Compile the program's modules first: ts-node's compile time is not the program's cost.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { PROGRAM } = require("../test/rehearsal/world");
    for (const m of ["components/environment", "components/bootstrap", "components/program", "components/settings", "providers/forge", "providers/vm", "providers/gateway", "providers/feedback-hub"]) require(path.join(REPO, m));
    const started = process.hrtime.bigint();
    await pulumi.runtime.runInPulumiStack(async () => {
        const mod = require(path.join(REPO, PROGRAM));
        return typeof mod === "function" ? await mod() : mod; // index.ts exports an async program
    });
    await settle();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    fs.rmSync(dir, { recursive: true, force: true });
    const first = regs.filter((r) => r.name === "u0000" || r.name.startsWith("u0000-"));
    const providerBytes = regs.reduce((s, r) => s + (typeof r.inputs?.__provider === "string" ? r.inputs.__provider.length : 0), 0);
    const inputBytes = regs.reduce((s, r) => s + JSON.stringify(r.inputs ?? {}).length, 0);
    return {
        users: n, resources: regs.length, ms, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
        shape: first.map((r) => ({ type: r.type, name: r.name.replace(/^u0000/, ""), parentRole: null, custom: !r.type.startsWith("hero:") })),
        providerBytes, inputBytes,
    };
}

class BareComponent extends pulumi.ComponentResource {
    done(): void {
        this.registerOutputs({});
    }
}

class BareCustom extends pulumi.CustomResource {}

/** Part 1b: the same resource set through the bare SDK, trivial inputs. */
async function partBare(n: number, shape: NonNullable<ProgramFigures["shape"]>): Promise<ProgramFigures> {
    let count = 0;
    await withMocks(false, () => count++);
    const started = process.hrtime.bigint();
    await pulumi.runtime.runInPulumiStack(async () => {
        for (let i = 0; i < n; i++) {
            const u = `u${String(i).padStart(4, "0")}`;
            const comp = shape.find((s) => !s.custom);
            const parent = comp ? new BareComponent(comp.type, u + comp.name, {}) : undefined;
            for (const s of shape.filter((x) => x.custom)) {
                new BareCustom(s.type, u + s.name, { x: 1 }, { parent });
            }
            parent?.done();
        }
        return {};
    });
    await settle();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    return { users: n, resources: count, ms, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
}

/** Part 3 (and 2): rehearsals of `counts` users against the fakes, provisioning delay `provisionMs`. */
async function partRehearsal(counts: number[], provisionMs: number): Promise<unknown> {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { World } = require("../test/rehearsal/world");
    const { loadState } = require("../test/rehearsal/engine");
    /* eslint-enable @typescript-eslint/no-require-imports */
    const max = Math.max(...counts);
    const names = Array.from({ length: max }, (_, i) => `u${String(i).padStart(4, "0")}`);
    const world = await World.start(names, { provisionMs });
    const out: Record<string, unknown>[] = [];
    try {
        for (const n of counts) {
            world.writeUsers(names.slice(0, n).map((username: string) => ({ username })));
            world.compute.maxDeploysInFlight = 0;
            const r = await world.run("up", { computeConcurrency: "3" });
            const state = loadState(world.stateFile);
            const res = Object.values<any>(state.resources);
            const stateBytes = res.reduce((s, x) => s + JSON.stringify(x.inputs).length + JSON.stringify(x.outputs).length, 0);
            const providerBytes = res.reduce((s, x) => s + (x.inputs.__provider?.length ?? 0) + (x.outputs.__provider?.length ?? 0), 0);
            out.push({
                users: n, ok: r.ok, errors: r.errors.slice(0, 3), ms: r.ms, creates: r.ops.filter((o: any) => o.op === "create").length,
                maxInFlight: world.compute.maxDeploysInFlight, stateBytes, providerBytes, fileBytes: fs.statSync(world.stateFile).size,
            });
            const d = await world.run("destroy");
            if (!d.ok) throw new Error(`destroy after ${n} users failed: ${d.errors.join("; ")}`);
        }
    } finally {
        await world.stop();
    }
    return out;
}

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

async function driver(argv: string[]): Promise<void> {
    const usersArg = argv.includes("--users") ? argv[argv.indexOf("--users") + 1] : "10,100,1000";
    const counts = usersArg.split(",").map(Number);
    const t0 = Date.now();
    console.log(`# bench on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GB, node ${process.version}, ${os.platform()} ${os.release()}\n`);

    console.log(`program: ${require("../test/rehearsal/world").PROGRAM}\n`);
    console.log("## 1. Program cost under mocks (evaluation + registration), against the bare SDK\n");
    console.log("| users | resources | program s | program peak MB | bare SDK s | bare peak MB | time ratio | ms/user program | ms/user bare |");
    console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let shape: ProgramFigures["shape"];
    let first: ProgramFigures | undefined;
    for (const n of counts) {
        const p: ProgramFigures = await child(["--part", "program", String(n)]);
        shape ??= p.shape;
        first ??= p;
        const b: ProgramFigures = await child(["--part", "bare", String(n), JSON.stringify(shape)]);
        console.log(`| ${n} | ${p.resources} | ${(p.ms / 1000).toFixed(2)} | ${p.maxRssMb} | ${(b.ms / 1000).toFixed(2)} | ${b.maxRssMb} | ${(p.ms / b.ms).toFixed(2)} | ${(p.ms / n).toFixed(1)} | ${(b.ms / n).toFixed(1)} |`);
    }

    console.log("\n## 2. State cost per user\n");
    if (first) {
        console.log(`- resources per user: ${Math.round((first.resources - 1) / first.users)} (plus the stack)`);
        console.log(`- serialized provider code per user, one copy (inputs only, as registered): ${kb(first.providerBytes! / first.users)}`);
        console.log(`- inputs per user as registered (provider copies included): ${kb(first.inputBytes! / first.users)}`);
    }
    if (!argv.includes("--skip-rehearsal")) {
        const r: any[] = await child(["--part", "rehearsal", "1,20", "2000"]);
        const one = r[0];
        console.log(`- state-like bytes per user from a real rehearsal (inputs + outputs, provider copies in both, as Pulumi stores them): ${kb(one.stateBytes)} of which provider code ${kb(one.providerBytes)}`);
        console.log(`- the rehearsal's own state file (providers stored once): ${kb(r[1].fileBytes / r[1].users)} per user at ${r[1].users} users`);
        console.log("\n## 3. Parallelism: rehearsal wall time, compute provisioning delay 2 s, computeConcurrency 3\n");
        console.log("| users | ok | wall s | creates | max deploys in flight |");
        console.log("|---:|---|---:|---:|---:|");
        for (const x of r) console.log(`| ${x.users} | ${x.ok ? "yes" : `NO: ${x.errors.join("; ")}`} | ${(x.ms / 1000).toFixed(1)} | ${x.creates} | ${x.maxInFlight} |`);
        console.log(`\nratio 20 users / 1 user: ${(r[1].ms / r[0].ms).toFixed(2)} (serial would be about 20; a cap of 3 on 2 s deploys alone needs ceil(20/3) × 2 s = 14 s)`);
    }
    console.log(`\n(bench took ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
}

async function main(): Promise<void> {
    const argv = process.argv.slice(2);
    if (argv[0] !== "--part") return driver(argv);
    let result: unknown;
    if (argv[1] === "program") result = await partProgram(Number(argv[2]));
    else if (argv[1] === "bare") result = await partBare(Number(argv[2]), JSON.parse(argv[3]));
    else if (argv[1] === "rehearsal") result = await partRehearsal(argv[2].split(",").map(Number), Number(argv[3]));
    process.stdout.write(`\n@@bench@@${JSON.stringify(result)}\n`);
}

main().then(
    () => process.exit(),
    (err) => {
        process.stderr.write(`${err instanceof Error ? err.stack : err}\n`);
        process.exit(1);
    },
);
