/**
 * The bench's evaluations under mocks (see scripts/bench.ts): the real program for N
 * users with realistic canned outputs, and the bare-SDK baseline registering the same
 * resource set. Each runs in its own child process (ts-node, CommonJS).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { nextTurn } from "../../components/program";

const REPO = path.resolve(__dirname, "..", "..");
export const PROJECT = "hero-os-grid-deployer";
/** Every bench user has two optional services, as the figures assume. */
export const BENCH_SERVICES = ["slides", "whiteboard"];

export interface Registration {
    type: string;
    name: string;
    custom: boolean;
    /** Bytes of the inputs as registered (JSON), provider text included. */
    inputBytes: number;
    /** Bytes of the outputs the mock answered with (JSON), as state would hold them. */
    outputBytes: number;
    /** Bytes of `__provider` in the inputs (dynamic resources). */
    providerBytes: number;
    /**
     * Property names of the resource: with `declared`, every property the SDK transfers
     * (the props the class passes, unset outputs included, `__provider` left out); else
     * the inputs as registered and the outputs as answered.
     */
    keys: string[];
}

export interface Evaluation {
    users: number;
    ms: number;
    /** CPU time of the evaluation (user + system, all threads: GC included), less sensitive than `ms` to other load on the machine. */
    cpuMs: number;
    maxRssMb: number;
    regs: Registration[];
}

export function usersYaml(n: number, services = BENCH_SERVICES): string {
    const lines = ["users:"];
    for (let i = 0; i < n; i++) {
        const u = `u${String(i).padStart(4, "0")}`;
        lines.push(`  - username: ${u}`, `    email: ${u}@example.org`, `    fullName: User ${i}`, `    services: [${services.join(", ")}]`);
    }
    return lines.join("\n") + "\n";
}

let key: Record<string, string> | undefined;

/**
 * Canned outputs shaped like the real providers': a real ED25519 key in every encoding,
 * the dynamic providers' outs (the gateway's `url` included, so every step's stdin is
 * rendered), one line of stdout per step. No engine work.
 */
export function canned(type: string, name: string, inputs: any): Record<string, unknown> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    key ??= require("../../test/engine/builtins").ed25519Key();
    const user = name.split("-")[0];
    switch (type) {
        case "tls:index/privateKey:PrivateKey":
            return { ecdsaCurve: "P224", rsaBits: 2048, ...inputs, ...key };
        case "random:index/randomPassword:RandomPassword":
            return { ...inputs, result: "Aa1-Bb2_Cc3.Dd4~Ee5!Ff6x", bcryptHash: "" };
        case "command:remote:Command":
            // The host-key steps print an ED25519 host key, which the program parses.
            if (/-host-key(-check)?$/.test(name)) return { ...inputs, stdout: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJxlQR6ZTNIiAbIlRU0wc8JMlXUQNIsStaqoDB/X5igR", stderr: "" };
            return { ...inputs, stdout: `${name.slice(user.length + 1)}: ${"x".repeat(90)}`, stderr: "" };
        case "command:remote:CopyToRemote":
            return { ...inputs };
        case "pulumi-nodejs:dynamic/hero:Vm":
            return { ...inputs, vmId: "v1a2", computeEndpoint: "https://compute.example.org/rpc", nodeId: 42, myceliumIp: "5a1:1234:5678:9abc::1", state: "running" };
        case "pulumi-nodejs:dynamic/hero:Gateway":
            return { ...inputs, computeEndpoint: "https://compute.example.org/rpc", fqdn: `b${user}.gent02.grid.tf`, url: `https://b${user}.gent02.grid.tf` };
        case "pulumi-nodejs:dynamic/hero:ForgeAccount":
            return {
                ...inputs, login: user, userId: 1234, createdByTool: true, token: "0123456789abcdef0123456789abcdef01234567", tokenId: 77,
                tokenNote: `token "hero-cockpit" (id 77) minted for ${user} with scopes write:issue, read:repository, read:user`, feedbackAccess: true, managedBy: "",
            };
        case "pulumi-nodejs:dynamic/hero:ForgeLogin":
            return {
                ...inputs, appId: 77, name: `Hero OS demo login for ${user} [managed by hero-os-grid-deployer, stack organization/hero-os-grid-deployer/bench 0123abcd]`,
                clientId: "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", clientSecret: "gto_abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst", redirectUri: `https://b${user}.gent02.grid.tf/oauth/callback`, claimed: false,
            };
        case "pulumi-nodejs:dynamic/hero:FeedbackHub":
            return { ...inputs, repoUrl: "https://forge.example.org/lhumina_public/feedback", orgCreatedByTool: false, repoCreatedByTool: false, customizedTemplates: [] };
        default:
            // A dynamic resource without canned outputs would break rendering downstream: say which.
            if (type.startsWith("pulumi-nodejs:dynamic/")) throw new Error(`bench: no canned outputs for ${type} (add them here, shaped like its provider's)`);
            return { ...inputs };
    }
}

function cpuSince(start: NodeJS.CpuUsage): number {
    const d = process.cpuUsage(start);
    return (d.user + d.system) / 1000;
}

const size = (x: unknown) => JSON.stringify(x ?? {}).length;

async function settle(): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    await require("@pulumi/pulumi/runtime/settings").waitForRPCs();
}

/**
 * The real program (index.ts) for `n` users under mocks. `preview`: as `pulumi preview`
 * (no preflight); else as `pulumi up`, with `computeUrl` answering rpc.discover.
 * `declared`: record every resource's declared properties (a stack transformation sees
 * the props the class passes, set or not); it costs time, so never in a timed run.
 */
export async function evaluateProgram(n: number, preview: boolean, computeUrl = "https://compute.example.org/rpc", declared = false): Promise<Evaluation> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-"));
    fs.writeFileSync(path.join(dir, "users.yaml"), usersYaml(n));
    const regs: Registration[] = [];
    const declaredKeys = new Map<string, string[]>();
    await pulumi.runtime.setMocks(
        {
            newResource: (a) => {
                const state = canned(a.type, a.name, a.inputs);
                const custom = !a.type.startsWith("hero:demo:");
                regs.push({
                    type: a.type, name: a.name, custom, inputBytes: size(a.inputs), outputBytes: size(state),
                    providerBytes: typeof a.inputs?.__provider === "string" ? a.inputs.__provider.length : 0, keys: declaredKeys.get(a.name) ?? Object.keys(state),
                });
                return { id: `${a.name}-id`, state };
            },
            call: () => ({}),
        },
        PROJECT,
        "bench",
        preview,
        "organization", // what the file backend calls every stack's organization
    );
    const config = {
        usersFile: path.join(dir, "users.yaml"), forgeUrl: "https://forge.example.org", computeUrl, namePrefix: "b",
        bootstrapOverrides: JSON.stringify({ bundleDir: path.join(dir, "bundles") }),
    };
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`${PROJECT}:${k}`, v])), []);
    // Compile the program's modules first: ts-node's compile time is not the program's cost.
    for (const m of ["components/environment", "components/bootstrap", "components/bundle", "components/program", "components/settings", "index"]) require(path.join(REPO, m));
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    await pulumi.runtime.runInPulumiStack(async () => {
        if (declared) {
            pulumi.runtime.registerStackTransformation((a) => {
                declaredKeys.set(a.name, Object.keys(a.props).filter((k) => k !== "__provider"));
                return undefined;
            });
        }
        const mod = require(path.join(REPO, "index.ts"));
        return typeof mod === "function" ? await mod() : mod;
    });
    await settle();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const cpuMs = cpuSince(cpu);
    fs.rmSync(dir, { recursive: true, force: true });
    return { users: n, ms, cpuMs, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024), regs };
}

class BareComponent extends pulumi.ComponentResource {
    done(): void {
        this.registerOutputs({});
    }
}

class BareCustom extends pulumi.CustomResource {}

class BareDynamic extends pulumi.dynamic.Resource {}

export type Shape = { type: string; role: string; custom: boolean; keys: string[] }[];

/** The resources of one user (u0000) and the stack-wide ones, as a shape the bare SDK repeats. */
export function shapeOf(regs: Registration[]): Shape {
    return regs.filter((r) => r.name === "u0000" || r.name.startsWith("u0000-")).map((r) => ({ type: r.type, role: r.name.slice("u0000".length), custom: r.custom, keys: r.keys.filter((k) => k !== "__provider") }));
}

/**
 * The same resource set through the bare SDK, in the same mode: the same types, names
 * and parents, each resource with the property names the shape gives (trivial values),
 * because the SDK's cost grows with properties (four promises, each with a stack trace,
 * per property). The bench's shape is the declared one (see evaluateProgram's
 * `declared`): a `remote.Command` transfers all of its properties, set or not.
 * `yieldEach`: yield to the event loop after each user, as the program does (buildEach).
 */
export async function evaluateBare(n: number, shape: Shape, preview: boolean, yieldEach = false): Promise<Evaluation> {
    return await evaluateLoop(n, preview, async () => {
        for (let i = 0; i < n; i++) {
            const u = `u${String(i).padStart(4, "0")}`;
            const comp = shape.find((s) => !s.custom);
            const parent = comp ? new BareComponent(comp.type, u + comp.role, {}) : undefined;
            for (const s of shape.filter((x) => x.custom)) {
                new BareCustom(s.type, u + s.role, Object.fromEntries(s.keys.map((k) => [k, 1])), { parent });
            }
            parent?.done();
            if (yieldEach) await nextTurn();
        }
    });
}

/**
 * A diagnostic, not the baseline: the same resource set through the provider SDKs'
 * classes (tls.PrivateKey, random.RandomPassword, pulumi.dynamic.Resource with the
 * program's shims, remote.Command, remote.CopyToRemote), with constant inputs of the
 * program's property names. Its distance to the bare SDK is what those classes add (each
 * declares all its properties, set or not; Command and CopyToRemote lift, default and
 * secret the connection per resource); the program's distance to it is what the
 * program's own values, Outputs and rendering add.
 */
export async function evaluateClasses(n: number, shape: Shape, preview: boolean): Promise<Evaluation> {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const tls: typeof import("@pulumi/tls") = require("@pulumi/tls");
    const random: typeof import("@pulumi/random") = require("@pulumi/random");
    const { remote }: typeof import("@pulumi/command") = require("@pulumi/command");
    const { SHIMS } = require("../../providers/shims");
    /* eslint-enable @typescript-eslint/no-require-imports */
    // A dynamic resource's type name is its shim's key, capitalised (Vm: vm, ForgeLogin: forgeLogin): no list to forget.
    const shimOf = (kind: string) => SHIMS[(kind[0].toLowerCase() + kind.slice(1)) as keyof typeof SHIMS];
    const connection = { host: "5a1::1", port: 22, user: "root", privateKey: "k", dialErrorLimit: 60, perDialTimeout: 10 };
    return await evaluateLoop(n, preview, async () => {
        for (let i = 0; i < n; i++) {
            const u = `u${String(i).padStart(4, "0")}`;
            const comp = shape.find((s) => !s.custom);
            const parent = comp ? new BareComponent(comp.type, u + comp.role, {}) : undefined;
            for (const s of shape.filter((x) => x.custom)) {
                const name = u + s.role;
                const has = (k: string) => s.keys.includes(k);
                const kind = /^pulumi-nodejs:dynamic\/hero:(\w+)$/.exec(s.type)?.[1];
                if (kind && shimOf(kind)) new BareDynamic(shimOf(kind), name, Object.fromEntries(s.keys.map((k) => [k, 1])), { parent }, "hero", kind);
                else if (s.type === "tls:index/privateKey:PrivateKey") new tls.PrivateKey(name, { algorithm: "ED25519" }, { parent });
                else if (s.type === "random:index/randomPassword:RandomPassword") new random.RandomPassword(name, { length: 1, special: true, overrideSpecial: "x", minLower: 1, minUpper: 1, minNumeric: 1, minSpecial: 1 }, { parent });
                else if (s.type === "command:remote:Command") {
                    new remote.Command(name, { connection, create: "x", stdin: "x", triggers: ["x"], addPreviousOutputInEnv: false, ...(has("logging") ? { logging: "stderr" as const } : {}) }, { parent });
                } else if (s.type === "command:remote:CopyToRemote") new remote.CopyToRemote(name, { connection, source: new pulumi.asset.FileAsset("/dev/null"), remotePath: "/x", triggers: ["x"] }, { parent });
                else throw new Error(`evaluateClasses: no class for ${s.type}`);
            }
            parent?.done();
        }
    });
}

/** Runs `body` as a stack under mocks that answer each resource with its inputs, timed as evaluateProgram is. */
async function evaluateLoop(n: number, preview: boolean, body: () => Promise<void>): Promise<Evaluation> {
    let count = 0;
    await pulumi.runtime.setMocks({ newResource: (a) => (count++, { id: `${a.name}-id`, state: a.inputs }), call: () => ({}) }, PROJECT, "bench", preview, "organization");
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    await pulumi.runtime.runInPulumiStack(async () => {
        await body();
        return {};
    });
    await settle();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const cpuMs = cpuSince(cpu);
    return { users: n, ms, cpuMs, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024), regs: Array.from({ length: count }, () => ({ type: "", name: "", custom: true, inputBytes: 0, outputBytes: 0, providerBytes: 0, keys: [] })) };
}

/**
 * The bytes a file backend writes during an `up` that creates `regs` in that order:
 * after each step the whole checkpoint again, so the sum of the state's size after each
 * step. A resource's record is its inputs and outputs (provider copies in both, as
 * Pulumi stores them) plus about 200 bytes of URN, type, id, parent and dependencies.
 * Compact JSON, no secrets encryption: a lower bound of what Pulumi writes.
 */
export function checkpointBytes(regs: Pick<Registration, "inputBytes" | "outputBytes" | "custom">[]): { steps: number; bytes: number; finalBytes: number } {
    let state = 0;
    let bytes = 0;
    for (const r of regs) {
        state += r.inputBytes + (r.custom ? r.outputBytes : 0) + RECORD_OVERHEAD;
        bytes += state;
    }
    return { steps: regs.length, bytes, finalBytes: state };
}

export const RECORD_OVERHEAD = 200;
