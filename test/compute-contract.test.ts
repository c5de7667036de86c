/**
 * The contract (providers/compute/openrpc.json), the binding that maps our
 * operations onto it (providers/compute/binding.json), the fake that follows it,
 * the preflight, and the client's transport rules.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bindingProblems, loadBinding } from "../providers/compute/bind";
import * as rpc from "../providers/compute/client";
import { fitBinding, preflight } from "../providers/compute/contract";
import { dialectDocument, DIALECTS, FakeCompute, loadContract, TODAY_BINDING_PATH } from "./fakes/compute";

const doc = loadContract();
const EVIDENCE = /^(attested|guessed)(: \S.*)?$/;

describe("the contract document and the default binding", () => {
    it("the default binding fits the document, every method, param and result field (drift guard)", () => {
        expect(fitBinding(loadBinding(), doc).problems).toEqual([]);
    });

    it("marks every method, param, result and result field as attested (with its source) or guessed", () => {
        const unmarked: string[] = [];
        const mark = (where: string, x: any) => (typeof x?.["x-evidence"] === "string" && EVIDENCE.test(x["x-evidence"])) || unmarked.push(where);
        for (const m of doc.methods) {
            mark(m.name, m);
            mark(`${m.name} result`, m.result);
            for (const p of m.params) mark(`${m.name}.${p.name}`, p);
        }
        for (const [kind, schema] of Object.entries<any>(doc.components.schemas)) {
            for (const [field, f] of Object.entries(schema.properties)) mark(`${kind}.${field}`, f);
        }
        for (const [name, e] of Object.entries(doc.components.errors)) mark(`error ${name}`, e);
        expect(unmarked).toEqual([]);
        // Attested means a source is named.
        const attested = JSON.stringify(doc).match(/"x-evidence":"attested[^"]*"/g) ?? [];
        expect(attested.length).toBeGreaterThan(10);
        expect(attested.every((a) => /attested: \S/.test(a))).toBe(true);
    });

    it("writes down what the tracker shows: prefixed names, keys before the deploy, a data disk, the flist by short name, publicip, node_id, backends[]", () => {
        const m = (name: string) => doc.methods.find((x: any) => x.name === `ComputeService.${name}`);
        const params = (name: string) => m(name).params.map((p: any) => p.name);
        expect(params("deploy_vm")).toEqual(expect.arrayContaining(["cpu", "memory", "disk", "rootfs", "flist", "publicip", "node_id"]));
        expect(params("deploy_vm")).not.toContain("ssh_keys");
        expect(m("deploy_vm").params.find((p: any) => p.name === "flist").schema.examples).toEqual(["ubuntu-24.04-latest"]);
        expect(m("inject_ssh_keys")["x-evidence"]).toMatch(/^attested: hero_compute#116 step 1/);
        expect(params("deploy_webgateway")).toEqual(expect.arrayContaining(["name", "node_id", "backends"]));
        expect(m("delete_vm")["x-evidence"]).toMatch(/^guessed/);
        expect(doc.components.schemas.Vm.properties.mycelium_ip["x-evidence"]).toMatch(/^attested: hero_compute#116 step 3/);
        expect(doc.components.schemas.Vm.properties.sid["x-evidence"]).toMatch(/^guessed: .*OSIS/);
    });

    it("ERRORS carries the document's error codes", () => {
        const fromDoc = Object.fromEntries(Object.entries(doc.components.errors).map(([k, v]: [string, any]) => [k, v.code]));
        expect(rpc.ERRORS).toEqual(fromDoc);
    });

    it("today's binding fits today's document and, its names tried prefixed, the prefixed one; the default binding fits neither, and today's not the tracker's", () => {
        const today = loadBinding(TODAY_BINDING_PATH);
        expect(fitBinding(today, dialectDocument("today")).problems).toEqual([]);
        expect(fitBinding(today, dialectDocument("prefixed")).problems).toEqual([]);
        expect(fitBinding(today, dialectDocument("tracker")).ok).toBe(false);
        expect(fitBinding(loadBinding(), dialectDocument("today")).ok).toBe(false);
        expect(DIALECTS).toEqual(["today", "prefixed", "tracker", "next"]);
    });

    it("a binding file that is not one is refused with every problem, naming the file", () => {
        expect(bindingProblems({ service: "ComputeService", keys: "sometimes", backends: "one", sizeUnit: "KB", images: {}, operations: {}, results: {} })).toEqual(
            expect.arrayContaining([
                'keys must be "with" (deploy_vm carries them), "before" (inject_ssh_keys first) or "only-with" (deploy_vm carries them and there is no key-injection method), not "sometimes"',
                'sizeUnit must be "MB" or "GB", not "KB"',
                "operations.deployVm is missing",
                "results.Vm must map our field names to live ones",
            ]),
        );
        const bad = { ...loadBinding(TODAY_BINDING_PATH), file: undefined } as any;
        bad.operations.deployVm.params = { ...bad.operations.deployVm.params, ram: "memory" };
        delete bad.operations.getVm.params.vm_id;
        expect(bindingProblems(bad)).toEqual([
            "unknown key file (known: comment, service, keys, backends, sizeUnit, images, operations, results, states, errors, auth)",
            "operations.deployVm.params.ram: we have no param ram (ours: name, flist, cpu, memory, disk, mycelium, public_ip, ssh_keys, node_id)",
            "operations.getVm.params must map our vm_id",
        ]);
        expect(() => loadBinding("/nonexistent/binding.json")).toThrow(/the Hero Compute binding \/nonexistent\/binding.json cannot be read/);
    });
});

describe("client and preflight against the fake, over HTTP and a Unix socket", () => {
    let fake: FakeCompute;
    const conn = (over: Partial<rpc.Conn> = {}): rpc.Conn => ({ url: fake.httpUrl, backoffMs: 1, timeoutMs: 2000, ...over });

    beforeAll(async () => {
        fake = await FakeCompute.start({ dialect: "today", token: "s3cret-token" });
    });
    afterAll(async () => {
        await fake.stop();
    });

    it("preflight passes over HTTP and over the Unix socket, sending the bearer token", async () => {
        await preflight(fake.httpUrl, "s3cret-token", { bindingFile: TODAY_BINDING_PATH });
        await preflight(fake.unixUrl, "s3cret-token", { bindingFile: TODAY_BINDING_PATH });
        const discovers = fake.requests.filter((r) => r.method === "rpc.discover");
        expect(discovers.map((r) => r.via)).toEqual(["http", "unix"]);
        expect(discovers.every((r) => r.authorization === "Bearer s3cret-token")).toBe(true);
    });

    it("preflight reports every missing method and param, and every required param we do not send, in ONE error", async () => {
        const drifted = await FakeCompute.start({
            dialect: "today",
            discover: (d) => {
                d.methods = d.methods.filter((m: any) => m.name !== "delete_vm" && m.name !== "delete_webgateway");
                const deploy = d.methods.find((m: any) => m.name === "deploy_vm");
                deploy.params = deploy.params.filter((p: any) => p.name !== "node_id");
                deploy.params.push({ name: "network_name", required: true, schema: { type: "string" } });
                return d;
            },
        });
        try {
            const err = await preflight(drifted.httpUrl, undefined, { bindingFile: TODAY_BINDING_PATH }).catch((e: Error) => e);
            expect(err).toBeInstanceOf(Error);
            const msg = (err as Error).message;
            expect(msg).toContain("deleteVm: the live document has no method delete_vm or ComputeService.delete_vm");
            expect(msg).toContain("deleteGateway: the live document has no method delete_webgateway or ComputeService.delete_webgateway");
            expect(msg).toContain("deployVm (deploy_vm): has no param node_id (the binding sends our node_id as node_id)");
            expect(msg).toContain("deployVm (deploy_vm): requires param network_name, which the binding does not send");
            expect(msg).toContain("nothing was deployed");
            expect(msg).toContain("npm run preflight");
            expect(drifted.calls).toEqual({ "rpc.discover": 1 });
        } finally {
            await drifted.stop();
        }
    });

    it("preflight follows $ref'd params (contentDescriptors) in the live document", async () => {
        const d = loadContract();
        d.components.contentDescriptors = { VmId: { name: "sid", required: true, schema: { type: "string" } } };
        d.methods.find((m: any) => m.name === "ComputeService.get_vm").params = [{ $ref: "#/components/contentDescriptors/VmId" }];
        expect(fitBinding(loadBinding(), d).problems).toEqual([]);
    });

    it("without rpc.discover, the document is read from GET /openrpc.json", async () => {
        const quiet = await FakeCompute.start({ discoverMethod: false });
        try {
            await preflight(quiet.httpUrl);
            expect(quiet.requests.map((r) => r.method)).toEqual(["rpc.discover"]);
        } finally {
            await quiet.stop();
        }
    });

    it("the default binding passes the preflight against the default (tracker) fake; today's binding fails it, listing the differences", async () => {
        const tracker = await FakeCompute.start();
        try {
            await preflight(tracker.httpUrl);
            const err = await preflight(tracker.httpUrl, undefined, { bindingFile: TODAY_BINDING_PATH }).catch((e: Error) => e);
            expect((err as Error).message).toContain("getVm (ComputeService.get_vm): has no param vm_id (the binding sends our vm_id as vm_id)");
            expect((err as Error).message).toContain("deployVm (ComputeService.deploy_vm): has no param ssh_keys");
        } finally {
            await tracker.stop();
        }
    });

    it("the fake refuses params the document does not have (it follows the contract)", async () => {
        const err = await rpc.call(conn({ token: "s3cret-token" }), "get_vm", { id: "x" }).catch((e) => e);
        expect(err).toMatchObject({ name: "RpcError", code: -32602, transient: false });
    });

    it("a JSON-RPC error becomes an RpcError naming method, user, code and the server's message", async () => {
        const err = await rpc.call<never>(conn({ token: "s3cret-token" }), "get_vm", { vm_id: "zzzz" }, { user: "alice" }).catch((e: rpc.RpcError) => e);
        expect(err).toBeInstanceOf(rpc.RpcError);
        expect(err.message).toBe("Hero Compute get_vm for alice failed (-32004): vm zzzz not found");
        expect(rpc.isRpcCode(err, rpc.ERRORS.NotFound)).toBe(true);
    });

    it("HTTP 401 is not retried and the token never appears in the error", async () => {
        const before = fake.requests.length;
        const err = await rpc.call<never>(conn({ token: "wrong-token-123" }), "list_vms").catch((e: rpc.RpcError) => e);
        expect(err).toMatchObject({ name: "RpcError", code: "HTTP 401", transient: false });
        expect(fake.requests.length - before).toBe(0); // refused before parsing: nothing logged, one request
        expect(err.message).not.toContain("wrong-token-123");
        expect(rpc.redact("Authorization: Bearer abc.def", "zzz")).toBe("Authorization: Bearer [redacted]");
        expect(rpc.redact("token t0k appears", "t0k")).toBe("token [redacted] appears");
    });

    it("retries an idempotent call after a 503 and a connection reset, then succeeds", async () => {
        fake.fault("503", { method: "list_vms" });
        fake.fault("reset", { method: "list_vms" });
        const before = fake.requests.filter((r) => r.method === "list_vms").length;
        await expect(rpc.call(conn({ token: "s3cret-token" }), "list_vms")).resolves.toEqual([]);
        expect(fake.requests.filter((r) => r.method === "list_vms").length - before).toBe(3);
    });

    it("gives up after the retry bound with the transient error", async () => {
        fake.fault("503", { method: "list_vms", times: 3 });
        const err = await rpc.call(conn({ token: "s3cret-token", retries: 2 }), "list_vms").catch((e) => e);
        expect(err).toMatchObject({ code: "HTTP 503", transient: true });
        expect(fake.faults.every((f) => f.times === 0)).toBe(true);
    });

    it("times out a request that never gets an answer, and retries it", async () => {
        fake.fault("hang", { method: "list_vms" });
        await expect(rpc.call(conn({ token: "s3cret-token", timeoutMs: 200 }), "list_vms")).resolves.toEqual([]);
        expect(fake.faults.every((f) => f.times === 0)).toBe(true);
        fake.fault("hang", { method: "list_vms" });
        const timedOut = await rpc.call(conn({ token: "s3cret-token", timeoutMs: 200 }), "list_vms", {}, { retry: false }).catch((e) => e);
        expect(timedOut).toMatchObject({ code: "timeout", transient: true });
    });

    it("never retries a call with retry: false (creates), even on a 503", async () => {
        fake.fault("503", { method: "deploy_webgateway" });
        const params = { name: "norepeat", backend: "http://[5a1::1]:9988" };
        const err = await rpc.call(conn({ token: "s3cret-token" }), "deploy_webgateway", params, { retry: false }).catch((e) => e);
        expect(err).toMatchObject({ code: "HTTP 503" });
        expect(fake.requests.filter((r) => r.method === "deploy_webgateway")).toHaveLength(1);
        expect(fake.gateways.size).toBe(0);
    });
});

describe("the process-global deploy slots", () => {
    it("never runs more than `max` at once, and runs everything", async () => {
        let running = 0;
        let peak = 0;
        const job = async () => {
            running++;
            peak = Math.max(peak, running);
            await new Promise((r) => setTimeout(r, 5));
            running--;
        };
        await Promise.all(Array.from({ length: 7 }, () => rpc.withSlot(2, job)));
        expect(peak).toBe(2);
        expect((globalThis as any).__heroComputeSlots).toMatchObject({ active: 0, waiting: [] });
    });
});

describe("provider settings from stack config", () => {
    it("regression: typed YAML values (numbers, booleans) read the same as the CLI's strings", async () => {
        const { settingsFrom } = await import("../providers/compute/client");
        const typed: Record<string, unknown> = {
            "hero-os-grid-deployer:computeUrl": "http://127.0.0.1:1/rpc",
            "hero-os-grid-deployer:computeConcurrency": 5,
            "hero-os-grid-deployer:vmReadyTimeoutMinutes": 2,
            "hero-os-grid-deployer:computeAllowLoopbackBackend": true,
        };
        const s = settingsFrom({ get: (k: string) => typed[k] as string | undefined });
        expect(s).toMatchObject({ concurrency: 5, readyTimeoutMs: 120_000, allowLoopbackBackend: true });
        expect(settingsFrom({ get: (k: string) => (k.endsWith("computeAllowLoopbackBackend") ? "false" : undefined) }).allowLoopbackBackend).toBe(false);
    });
});
