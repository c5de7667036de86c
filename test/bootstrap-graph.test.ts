/**
 * The bootstrap graph under Pulumi mocks: names, order (dependsOn chain from the VM
 * through the scripts copy), deletedWith and parent on every step, one connection for
 * all, triggers, logging and secrecy per step, the bundle file the copy ships.
 * The monitor's registerResource is wrapped to see what the SDK really sends
 * (dependencies, deletedWith, parent), which `newResource` alone does not show.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { getMonitor } from "@pulumi/pulumi/runtime/settings";
import { beforeAll, describe, expect, it } from "vitest";
import { createBootstrap, DEFAULT_LOGGING, STEP_LOGGING, type BootstrapArgs } from "../components/bootstrap";
import { bundleRemotePath, renderBundle } from "../components/bundle";
import { childName } from "../components/naming";
import { STEPS, defaultEnv, renderTriggers, type StepName } from "../components/render";
import { MOCK_HOST_KEY } from "./support/fixtures";
import { resolveServices } from "../users/catalog";
import type { DemoUser } from "../users/types";

interface Registered {
    type: string;
    name: string;
    urn: string;
    parent: string;
    dependencies: string[];
    deletedWith: string;
    additionalSecretOutputs: string[];
    replaceOnChanges: string[];
    ignoreChanges: string[];
    inputs: Record<string, any>;
    /** Input keys that arrived as secrets. */
    secretInputs: string[];
    /** The inputs as sent on the wire (assets as their serialized form). */
    wire: Record<string, any>;
}

const registered: Registered[] = [];
const bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), "hb-graph-bundles-"));
/** What the mock VM's host-key steps print. */
const HOST_KEY = MOCK_HOST_KEY;

function user(services: DemoUser["services"]): DemoUser {
    return {
        username: "alice",
        email: "alice@example.org",
        fullName: "Alice Example",
        services,
        optional: [],
        sshKeys: [],
        vm: { memoryMb: 8192, cpu: 4, diskGb: 50 },
        gridName: "devalice",
        gatewayName: "devalice",
    };
}

class FakeVm extends pulumi.CustomResource {
    constructor(name: string, opts: pulumi.CustomResourceOptions) {
        super("hero:index:Vm", name, {}, opts);
    }
}

class Env extends pulumi.ComponentResource {
    constructor(name: string) {
        super("hero:index:DemoEnvironment", name, {}, {});
    }
}

async function build(u: DemoUser, overrides: Partial<BootstrapArgs> = {}) {
    const env = new Env(u.username);
    const vm = new FakeVm(childName(u.username, "vm"), { parent: env });
    const { steps, hostKey, scripts } = createBootstrap(env, {
        user: u,
        vm,
        vmName: "devalice",
        vmId: "42",
        vmIdentity: "http://127.0.0.1:9988#42",
        host: "400:1234::5",
        privateKey: pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n"),
        gatewayUrl: "https://devalice.gent02.grid.tf",
        forgeUrl: "https://forge.example.org",
        forgeLogin: "alice",
        forgeToken: pulumi.secret("tok-graph-secret"),
        login: { clientId: "client-id-graph", clientSecret: pulumi.secret("client-secret-graph"), sessionSecret: pulumi.secret("session-secret-graph"), admins: [] },
        feedbackRepo: "lhumina_public/feedback",
        booksRepo: "https://forge.example.org/lhumina_public/ourworld_public.git",
        labChannel: "latest",
        bundleDir,
        ...overrides,
    });
    const vmUrn = await new Promise<string>((r) => vm.urn.apply(r));
    // Wait until every step is registered.
    await Promise.all([scripts, ...Object.values(steps), hostKey.learn, hostKey.check].map((s) => new Promise((r) => s.urn.apply(r))));
    return { steps, hostKey, scripts, vmUrn };
}

beforeAll(async () => {
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => ({ id: `${args.name}-id`, state: /-host-key(-check)?$/.test(args.name) ? { ...args.inputs, stdout: HOST_KEY } : args.inputs }),
            call: (args) => {
                throw new Error(`unexpected call ${args.token}`);
            },
        },
        "hero-os-grid-deployer",
        "dev",
        false,
    );
    const monitor = getMonitor() as any;
    const original = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, cb: any) => {
        const { deserializeProperties, isRpcSecret, unwrapRpcSecret } = require("@pulumi/pulumi/runtime/rpc");
        const raw: Record<string, any> = deserializeProperties(req.getObject());
        const inputs = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, unwrapRpcSecret(v)]));
        registered.push({
            type: req.getType(),
            name: req.getName(),
            urn: "",
            parent: req.getParent(),
            dependencies: req.getDependenciesList(),
            deletedWith: req.getDeletedwith(),
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
            replaceOnChanges: req.getReplaceonchangesList(),
            ignoreChanges: req.getIgnorechangesList(),
            inputs,
            secretInputs: Object.keys(raw).filter((k) => isRpcSecret(raw[k])),
            wire: req.getObject().toJavaScript(),
        });
        return original(req, (err: any, res: any) => {
            if (res) registered[registered.length - 1].urn = res.getUrn();
            cb(err, res);
        });
    };
});

function commands(): Registered[] {
    return registered.filter((r) => r.type === "command:remote:Command");
}

function copy(): Registered {
    const c = registered.filter((r) => r.type === "command:remote:CopyToRemote");
    expect(c).toHaveLength(1);
    return c[0];
}

/** The seven bootstrap steps only, without the two host-key steps. */
function stepCommands(): Registered[] {
    return commands().filter((c) => !/-host-key(-check)?$/.test(c.name));
}

const byName = (name: string) => commands().find((c) => c.name === name)!;

describe("bootstrap graph under mocks", () => {
    it("names every step <username>-<step>, in order, each depending on the one before: VM, host-key pin, scripts copy, then the steps", async () => {
        registered.length = 0;
        const { vmUrn } = await build(user(resolveServices(["slides"])));
        const cmds = commands();
        expect(cmds.map((c) => c.name)).toEqual(["alice-host-key", "alice-host-key-check", ...STEPS.map((s) => `alice-${s}`)]);
        expect(copy().name).toBe("alice-scripts");
        // VM → host-key → host-key-check → scripts → ready → … → health
        const chain = [byName("alice-host-key"), byName("alice-host-key-check"), copy(), ...stepCommands()];
        let previous = vmUrn;
        for (const c of chain) {
            // The pinned resources also read the host-key step's output: a data dependency on it.
            const expected = c.name.startsWith("alice-host-key") ? [previous] : [previous, chain[0].urn];
            expect([...c.dependencies].sort(), c.name).toEqual(expected.sort());
            previous = c.urn;
        }
    });
    it("sets deletedWith the VM, parent the user's component, and replace-on-trigger on every step", async () => {
        registered.length = 0;
        const { vmUrn } = await build(user(resolveServices([])));
        const component = registered.find((r) => r.type === "hero:index:DemoEnvironment")!;
        for (const c of [copy(), ...commands()]) {
            expect(c.deletedWith, c.name).toBe(vmUrn);
            expect(c.parent, c.name).toBe(component.urn);
            expect(c.replaceOnChanges, c.name).toContain("triggers[*]");
        }
    });

    it("connects as root to the mycelium IP with the key, and dial retries sized for a booting VM: one pinned connection for the copy and every step", async () => {
        registered.length = 0;
        await build(user(resolveServices([])));
        for (const c of stepCommands()) expect(c.inputs.connection, c.name).toEqual(copy().inputs.connection);
        for (const c of commands()) {
            const conn = c.inputs.connection;
            expect(conn.host).toBe("400:1234::5");
            expect(conn.user).toBe("root");
            expect(conn.port).toBe(22);
            expect(conn.privateKey).toContain("OPENSSH PRIVATE KEY");
            expect(c.secretInputs).toContain("connection");
            expect(conn.dialErrorLimit * conn.perDialTimeout).toBeGreaterThanOrEqual(600);
            expect(c.inputs.create).toBe(`bash -s -- ${c.name.slice("alice-".length).replace(/^host-key-check$/, "host-key")}`);
            expect(c.inputs.addPreviousOutputInEnv).toBe(false);
        }
    });

    it("copies the user's bundle, written to the bundle directory, to the VM's state directory; its inputs keep a path, not the text", async () => {
        registered.length = 0;
        const u = user(resolveServices(["slides"]));
        await build(u);
        const c = copy();
        const { specialSigKey, specialAssetSig } = require("@pulumi/pulumi/runtime/rpc");
        expect(c.wire.source[specialSigKey]).toBe(specialAssetSig);
        expect(c.wire.source.path).toBe(path.join(bundleDir, "alice.sh"));
        expect(c.wire.source.text).toBeUndefined();
        expect(JSON.stringify(c.wire.source).length).toBeLessThan(200);
        expect(c.inputs.remotePath).toBe(bundleRemotePath(""));
        const text = fs.readFileSync(c.wire.source.path, "utf8");
        expect(text).toContain("hb_step_health() {");
        for (const secret of ["tok-graph-secret", "client-secret-graph", "session-secret-graph"]) expect(text).not.toContain(secret);
        expect(text).toContain("client-id-graph");
        expect(c.inputs.triggers).toEqual(["host=400:1234::5", "vm=http://127.0.0.1:9988#42", expect.stringMatching(/^bundle=[0-9a-f]{12}$/)]);
        // Each step's stdin names the digest of its own part of that very bundle.
        const values = {
            user: { username: "alice", fullName: "Alice Example", email: "alice@example.org", services: u.services },
            host: "400:1234::5", gatewayUrl: "https://devalice.gent02.grid.tf", forgeUrl: "https://forge.example.org", forgeLogin: "alice",
            feedbackRepo: "lhumina_public/feedback", booksRepo: "https://forge.example.org/lhumina_public/ourworld_public.git", labChannel: "latest" as const,
            login: { clientId: "client-id-graph", admins: [] },
        };
        const bundle = renderBundle(values, defaultEnv("400:1234::5", "latest"));
        expect(bundle.text).toBe(text);
        for (const cmd of stepCommands()) {
            const step = cmd.name.slice("alice-".length) as StepName;
            expect(cmd.inputs.stdin).toContain(`HB_DIGEST='${bundle.digests[step]}'`);
        }
    });

    it("pins every bootstrap step to the host key the host-key step recorded; the two host-key steps are the only unpinned ones", async () => {
        registered.length = 0;
        await build(user(resolveServices(["slides"])));
        for (const c of stepCommands()) expect(c.inputs.connection.hostKey, c.name).toBe(HOST_KEY);
        for (const name of ["alice-host-key", "alice-host-key-check"]) expect(byName(name).inputs.connection.hostKey, name).toBeUndefined();
        // The check is given the pin and the message naming the VM and what to check.
        const check = byName("alice-host-key-check").inputs.stdin;
        expect(check).toContain(`HB_PINNED='${HOST_KEY}'`);
        expect(check).toContain("HB_MISMATCH='the SSH host key of alice'\\''s VM devalice (vm 42 at 400:1234::5) has changed");
    });

    it("runs the host-key step once per VM: its only trigger is the VM's identity, and connection, stdin and command are ignored", async () => {
        registered.length = 0;
        await build(user(resolveServices(["slides"])));
        const learn = byName("alice-host-key");
        expect(learn.inputs.triggers).toEqual(["http://127.0.0.1:9988#42"]);
        expect(learn.ignoreChanges).toEqual(expect.arrayContaining(["connection", "stdin", "create"]));
        expect(learn.inputs.stdin).not.toContain("HB_PINNED=");
        expect(byName("alice-host-key-check").ignoreChanges).toEqual([]);
    });

    it("regression: the host-key step's inputs that are not ignored stay as first shipped, so an upgrade does not run it again (a silent re-pin)", async () => {
        registered.length = 0;
        await build(user(resolveServices(["slides"])));
        const learn = byName("alice-host-key");
        const notIgnored = Object.keys(learn.inputs).filter((k) => !learn.ignoreChanges.includes(k)).sort();
        expect(notIgnored).toEqual(["addPreviousOutputInEnv", "logging", "triggers"]);
        expect(learn.inputs).toMatchObject({ addPreviousOutputInEnv: false, logging: "stdoutAndStderr" });
    });

    it("re-runs the host-key check whenever a later step would run: services, gateway URL, Forge token", async () => {
        const checkOf = async (services: DemoUser["services"], over: Partial<BootstrapArgs> = {}) => {
            registered.length = 0;
            await build(user(services), over);
            return byName("alice-host-key-check");
        };
        const base = await checkOf(resolveServices([]));
        expect(base.secretInputs).toContain("triggers"); // a digest over the token-carrying stdin: kept secret
        expect(JSON.stringify(base.inputs.triggers)).not.toContain("tok-graph-secret");
        expect((await checkOf(resolveServices([]))).inputs.triggers).toEqual(base.inputs.triggers);
        expect((await checkOf(resolveServices(["slides"]))).inputs.triggers).not.toEqual(base.inputs.triggers);
        expect((await checkOf(resolveServices([]), { gatewayUrl: "https://other.gent02.grid.tf" })).inputs.triggers).not.toEqual(base.inputs.triggers);
        expect((await checkOf(resolveServices([]), { forgeToken: pulumi.secret("tok-other") })).inputs.triggers).not.toEqual(base.inputs.triggers);
    });

    it("gives each step the triggers renderTriggers computes, and no secret in any trigger", async () => {
        registered.length = 0;
        const u = user(resolveServices(["voice"]));
        await build(u);
        const expected = renderTriggers({
            host: "400:1234::5",
            labChannel: "latest",
            services: u.services,
            gatewayUrl: "https://devalice.gent02.grid.tf",
            forgeUrl: "https://forge.example.org",
            forgeLogin: "alice",
            feedbackRepo: "lhumina_public/feedback",
            booksRepo: "https://forge.example.org/lhumina_public/ourworld_public.git",
            vm: "http://127.0.0.1:9988#42",
        });
        for (const c of stepCommands()) {
            const step = c.name.slice("alice-".length) as StepName;
            expect(c.inputs.triggers, step).toEqual(expected[step]);
            expect(JSON.stringify(c.inputs.triggers)).not.toContain("tok-graph-secret");
        }
    });

    it("puts the Forge token only in cockpit-settings' stdin and the login's secrets only in front-door's; those two do not log stdout and keep their outputs secret", async () => {
        registered.length = 0;
        await build(user(resolveServices([])));
        const secrets = ["tok-graph-secret", "client-secret-graph", "session-secret-graph"];
        for (const name of ["alice-host-key", "alice-host-key-check"]) {
            for (const secret of secrets) expect(byName(name).inputs.stdin).not.toContain(secret);
            expect(byName(name).secretInputs).not.toContain("stdin");
        }
        for (const c of stepCommands()) {
            const step = c.name.slice("alice-".length) as StepName;
            // The provider's default (stdout and stderr) is not sent: it would only take room in state.
            expect(c.inputs.logging ?? DEFAULT_LOGGING).toBe(STEP_LOGGING[step]);
            expect(JSON.stringify(c.inputs.triggers), step).not.toMatch(/secret-graph/);
            if (step === "cockpit-settings" || step === "front-door") {
                const mine = step === "cockpit-settings" ? ["HB_FORGE_TOKEN='tok-graph-secret'"] : ["HB_CLIENT_SECRET='client-secret-graph'", "HB_SESSION_SECRET='session-secret-graph'"];
                for (const line of mine) expect(c.inputs.stdin).toContain(line);
                for (const secret of secrets) if (!mine.some((l) => l.includes(secret))) expect(c.inputs.stdin, step).not.toContain(secret);
                expect(c.secretInputs).toContain("stdin");
                expect(c.inputs.logging).not.toMatch(/stdout/i);
                expect(c.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
            } else {
                for (const secret of secrets) expect(c.inputs.stdin, step).not.toContain(secret);
                expect(c.secretInputs).not.toContain("stdin");
                expect(c.inputs.logging).toBeUndefined();
                expect(STEP_LOGGING[step]).toBe("stdoutAndStderr");
            }
        }
    });

    it("a rotated client secret changes front-door's stdin only (so it runs again), no trigger and no other step", async () => {
        registered.length = 0;
        await build(user(resolveServices([])));
        const before = Object.fromEntries(commands().map((c) => [c.name, c.inputs]));
        registered.length = 0;
        await build(user(resolveServices([])), { login: { clientId: "client-id-graph", clientSecret: pulumi.secret("client-secret-NEW"), sessionSecret: pulumi.secret("session-secret-graph"), admins: [] } });
        const after = Object.fromEntries(commands().map((c) => [c.name, c.inputs]));
        const stdin = STEPS.filter((s) => before[`alice-${s}`].stdin !== after[`alice-${s}`].stdin);
        const triggers = STEPS.filter((s) => JSON.stringify(before[`alice-${s}`].triggers) !== JSON.stringify(after[`alice-${s}`].triggers));
        expect(stdin).toEqual(["front-door"]);
        expect(triggers).toEqual([]);
    });

    it("a change of services changes the triggers of services and later steps, not ready or install", async () => {
        registered.length = 0;
        await build(user(resolveServices(["slides"])));
        const before = Object.fromEntries(commands().map((c) => [c.name, c.inputs]));
        registered.length = 0;
        await build(user(resolveServices([])));
        const after = Object.fromEntries(commands().map((c) => [c.name, c.inputs]));
        const changed = STEPS.filter((s) => JSON.stringify(before[`alice-${s}`].triggers) !== JSON.stringify(after[`alice-${s}`].triggers));
        expect(changed).toEqual(["services", "front-door", "cockpit-settings", "books", "health"]);
        // install is not replaced; its stdin (the repo list) changes, so it runs again in place and skips what is installed.
        expect(after["alice-install"].stdin).not.toBe(before["alice-install"].stdin);
        expect(after["alice-ready"].stdin).toBe(before["alice-ready"].stdin);
    });

    it("a new gateway URL re-runs front-door and later steps only", async () => {
        registered.length = 0;
        await build(user(resolveServices([])));
        const before = Object.fromEntries(commands().map((c) => [c.name, c.inputs]));
        registered.length = 0;
        await build(user(resolveServices([])), { gatewayUrl: "https://other.gent02.grid.tf" });
        const after = Object.fromEntries(commands().map((c) => [c.name, c.inputs]));
        const rerun = STEPS.filter(
            (s) => JSON.stringify(before[`alice-${s}`].triggers) !== JSON.stringify(after[`alice-${s}`].triggers) || before[`alice-${s}`].stdin !== after[`alice-${s}`].stdin,
        );
        expect(rerun).toEqual(["front-door", "cockpit-settings", "books", "health"]);
    });
});
