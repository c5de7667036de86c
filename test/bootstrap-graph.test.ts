/**
 * The bootstrap graph under Pulumi mocks: names, order (dependsOn chain from the VM),
 * deletedWith and parent on every step, triggers, logging and secrecy per step.
 * The monitor's registerResource is wrapped to see what the SDK really sends
 * (dependencies, deletedWith, parent), which `newResource` alone does not show.
 */
import * as pulumi from "@pulumi/pulumi";
import { getMonitor } from "@pulumi/pulumi/runtime/settings";
import { beforeAll, describe, expect, it } from "vitest";
import { createBootstrap, STEP_LOGGING, type BootstrapArgs } from "../components/bootstrap";
import { childName } from "../components/naming";
import { STEPS, renderTriggers, type StepName } from "../components/render";
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
}

const registered: Registered[] = [];
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
    const { steps, hostKey } = createBootstrap(env, {
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
        feedbackRepo: "lhumina_public/feedback",
        booksRepo: "https://forge.example.org/lhumina_public/ourworld_public.git",
        labChannel: "latest",
        ...overrides,
    });
    const vmUrn = await new Promise<string>((r) => vm.urn.apply(r));
    // Wait until every step is registered.
    await Promise.all([...Object.values(steps), hostKey.learn, hostKey.check].map((s) => new Promise((r) => s.urn.apply(r))));
    return { steps, hostKey, vmUrn };
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

/** The seven bootstrap steps only, without the two host-key steps. */
function stepCommands(): Registered[] {
    return commands().filter((c) => !/-host-key(-check)?$/.test(c.name));
}

const byName = (name: string) => commands().find((c) => c.name === name)!;

describe("bootstrap graph under mocks", () => {
    it("names every step <username>-<step>, in order, each depending on the one before and the first on the VM", async () => {
        registered.length = 0;
        const { vmUrn } = await build(user(resolveServices(["slides"])));
        const cmds = commands();
        expect(cmds.map((c) => c.name)).toEqual(["alice-host-key", "alice-host-key-check", ...STEPS.map((s) => `alice-${s}`)]);
        let previous = vmUrn;
        for (const c of cmds) {
            // The pinned steps also read the host-key step's output: a data dependency on it.
            const expected = c.name.startsWith("alice-host-key") ? [previous] : [previous, cmds[0].urn];
            expect([...c.dependencies].sort(), c.name).toEqual(expected.sort());
            previous = c.urn;
        }
    });

    it("sets deletedWith the VM, parent the user's component, and replace-on-trigger on every step", async () => {
        registered.length = 0;
        const { vmUrn } = await build(user(resolveServices([])));
        const component = registered.find((r) => r.type === "hero:index:DemoEnvironment")!;
        for (const c of commands()) {
            expect(c.deletedWith, c.name).toBe(vmUrn);
            expect(c.parent, c.name).toBe(component.urn);
            expect(c.replaceOnChanges, c.name).toContain("triggers[*]");
        }
    });

    it("connects as root to the mycelium IP with the key, and dial retries sized for a booting VM", async () => {
        registered.length = 0;
        await build(user(resolveServices([])));
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
        });
        for (const c of stepCommands()) {
            const step = c.name.slice("alice-".length) as StepName;
            expect(c.inputs.triggers, step).toEqual(expected[step]);
            expect(JSON.stringify(c.inputs.triggers)).not.toContain("tok-graph-secret");
        }
    });

    it("puts the Forge token only in cockpit-settings' stdin, which does not log stdout and keeps its outputs secret", async () => {
        registered.length = 0;
        await build(user(resolveServices([])));
        for (const name of ["alice-host-key", "alice-host-key-check"]) {
            expect(byName(name).inputs.stdin).not.toContain("tok-graph-secret");
            expect(byName(name).secretInputs).not.toContain("stdin");
        }
        for (const c of stepCommands()) {
            const step = c.name.slice("alice-".length) as StepName;
            expect(c.inputs.logging).toBe(STEP_LOGGING[step]);
            if (step === "cockpit-settings") {
                expect(c.inputs.stdin).toContain("HB_FORGE_TOKEN='tok-graph-secret'");
                expect(c.secretInputs).toContain("stdin");
                expect(c.inputs.logging).not.toMatch(/stdout/i);
                expect(c.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
            } else {
                expect(c.inputs.stdin).not.toContain("tok-graph-secret");
                expect(c.secretInputs).not.toContain("stdin");
                expect(c.inputs.logging).toBe("stdoutAndStderr");
            }
        }
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
