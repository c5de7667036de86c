/**
 * The VM and gateway providers against the fake's fourth dialect ("next"), in
 * process, with its binding (test/fixtures/compute/next.binding.json): methods
 * under another prefix and renamed, no key-injection method, integer ids, its own
 * state words and error codes, the token bare in X-Api-Key. Everything it differs
 * in is said by the binding; no TypeScript knows it.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Compute, loadBinding } from "../providers/compute/bind";
import { gatewayProvider, type GatewayOutputs } from "../providers/compute/gateway";
import { DEFAULT_FLIST, type VmInputs, type VmOutputs, vmProvider } from "../providers/compute/vm";
import { configRequest, FakeCompute } from "./fakes/compute";

export const NEXT_BINDING_PATH = path.resolve(__dirname, "fixtures", "compute", "next.binding.json");
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1cFBTJ6PJcaV+mZ+0lVyOar+nVaRWQCHrpeTl2YJRU deployer";
const OWN = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBWDF9l2irR9lZK9SzoXUYhyRqTBBNb5mrK6r7AHCk+Z alice@laptop";
const TOKEN = "next-api-key-5f1c";
const fast = { computePollSeconds: "0.005", computeProgressSeconds: "0.02", computeBackoffSeconds: "0.001", computeRequestTimeoutSeconds: "2", gatewayReleaseWaitSeconds: "0.2" };

let fake: FakeCompute;
let dir: string;
const vmInputs = (over: Partial<VmInputs> = {}): VmInputs => ({ name: "devalice", username: "alice", memoryMb: 8192, cpu: 4, diskGb: 50, sshKeys: [KEY], flist: DEFAULT_FLIST, ...over });

async function configure(over: Record<string, string> = {}): Promise<void> {
    const cfg = configRequest({ computeUrl: fake.httpUrl, computeToken: TOKEN, computeBinding: NEXT_BINDING_PATH, ...fast, ...over });
    await vmProvider.configure!(cfg);
    await gatewayProvider.configure!(cfg);
}

async function createVm(over: Partial<VmInputs> = {}): Promise<{ id: string; outs: VmOutputs }> {
    const checked = await vmProvider.check!({}, vmInputs(over));
    expect(checked.failures).toEqual([]);
    return (await vmProvider.create(checked.inputs)) as { id: string; outs: VmOutputs };
}

/** A copy of the next binding with `edit` applied, as a file. */
function bindingWith(edit: (b: any) => void): string {
    const { file: _f, ...b } = loadBinding(NEXT_BINDING_PATH) as any;
    edit(b);
    const file = path.join(dir, `binding-${Math.random().toString(36).slice(2)}.json`);
    fs.writeFileSync(file, JSON.stringify(b));
    return file;
}

const wire = (method: string) => fake.requests.filter((r) => r.method === method);

beforeAll(async () => {
    fake = await FakeCompute.start({ dialect: "next", token: TOKEN, defaultNode: 7 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "next-binding-"));
});
afterEach(() => {
    fake.vms.clear();
    fake.gateways.clear();
    fake.failingNodes.clear();
    fake.failingGateways.clear();
    fake.foreignGateways.clear();
    fake.requests.length = 0;
    for (const k of Object.keys(fake.calls)) delete fake.calls[k];
    vi.restoreAllMocks();
});
afterAll(async () => {
    await fake.stop();
    fs.rmSync(dir, { recursive: true, force: true });
});

describe("numeric ids: sent back as the integers the service gave", () => {
    it("through create, read, a gateway's create and update, adoption and delete: every id goes out as a number, none as a string", async () => {
        await configure();
        const { id, outs } = await createVm();
        const vm = fake.vm("devalice")!;
        expect(outs.vmId).toBe(vm.id); // our string, e.g. "0200"
        expect(fake.requests.find((r) => r.method === "deploy_vm")!.wire).toBe("compute.vm_create");
        expect((await vmProvider.read!(id, outs)).props).toMatchObject({ vmId: vm.id, state: "running" });
        expect(wire("get_vm").at(-1)!.params).toEqual({ id: Number(vm.id) });

        const gw = (await gatewayProvider.create({ name: "devalice", username: "alice", backend: "http://[5a1::7]:9988", vmId: outs.vmId })) as { id: string; outs: GatewayOutputs };
        expect(wire("deploy_webgateway").at(-1)!.params).toEqual({ name: "devalice", backend: "http://[5a1::7]:9988", vm: Number(vm.id) });
        await gatewayProvider.update!(gw.id, gw.outs, { ...gw.outs, backend: "http://[5a1::8]:9988" });
        expect(wire("deploy_webgateway").at(-1)!.params).toEqual({ name: "devalice", backend: "http://[5a1::8]:9988", vm: Number(vm.id) });
        expect((await gatewayProvider.read!(gw.id, { ...gw.outs, backend: "http://[5a1::8]:9988" })).id).toBe(gw.id); // the live vm (a number) is our VM id

        // A retry after a crash adopts the VM it finds (its id a number in the list), injecting nothing.
        const again = await createVm();
        expect(again.outs.vmId).toBe(vm.id);
        expect(fake.calls.deploy_vm).toBe(1);

        await vmProvider.delete!(id, outs);
        expect(wire("delete_vm").at(-1)!.params).toEqual({ id: Number(vm.id) });
        expect(fake.vms.size).toBe(0);
        const ids = fake.requests.flatMap((r) => [r.params?.id, r.params?.vm]).filter((x) => x !== undefined);
        expect(ids.length).toBeGreaterThan(4);
        expect(ids.every((x) => typeof x === "number")).toBe(true);
    });

    it("regression: without the binding's types the id goes out as a string and the service refuses it (-32602), as it did before", async () => {
        await configure({ computeBinding: bindingWith((b) => delete b.operations.getVm.types) });
        const { id, outs } = await createVm();
        await expect(vmProvider.read!(id, outs)).rejects.toMatchObject({ code: -32602 });
        expect(wire("get_vm").at(-1)!.params).toEqual({ id: outs.vmId });
    });
});

describe("keys travel only with the deploy (no key-injection method)", () => {
    it("an added key is a replacement in the preview (diff), never an update in place; a removed key too", async () => {
        await configure();
        const { outs } = await createVm();
        const added = await vmProvider.diff!("x", outs, vmInputs({ sshKeys: [KEY, OWN] }));
        expect(added).toEqual({ changes: true, replaces: ["sshKeys"], deleteBeforeReplace: true });
        expect((await vmProvider.diff!("x", outs, vmInputs())).changes).toBe(false);
        // With a binding that can add keys (the default one: keys before), the same change is in place.
        await configure({ computeBinding: "" });
        expect(await vmProvider.diff!("x", outs, vmInputs({ sshKeys: [KEY, OWN] }))).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    });

    it("update with an added key refuses and changes nothing; the deploy carries every key", async () => {
        await configure();
        const { id, outs } = await createVm({ sshKeys: [KEY, OWN] });
        expect(wire("deploy_vm")[0].params.authorized_keys).toEqual([KEY, OWN]);
        await expect(vmProvider.update!(id, { ...outs, sshKeys: [KEY] }, vmInputs({ sshKeys: [KEY, OWN] }))).rejects.toThrow(/keys travel only with the deploy .* nothing was changed\. Run pulumi up again: its preview replaces the VM/);
        expect(fake.requests.map((r) => r.method).filter((m) => m !== "get_vm" && m !== "list_vms" && m !== "deploy_vm")).toEqual([]);
    });

    it("adoption compares the keys the service reports: a leftover with every key is adopted, injecting nothing; one lacking a key is ours, so it is deleted and deployed afresh", async () => {
        await configure();
        await fake.invoke("deploy_vm", { name: "devalice", image: DEFAULT_FLIST, vcpu: 4, memory_mb: 8192, disk_mb: 51200, rootfs_mb: 8192, authorized_keys: [KEY, OWN] });
        const first = fake.vm("devalice")!.id;
        const { outs } = await createVm({ sshKeys: [KEY, OWN] });
        expect(outs.vmId).toBe(first);
        expect(fake.calls.deploy_vm).toBe(1);
        const lines: string[] = [];
        vi.spyOn(process.stderr, "write").mockImplementation((c: any) => (lines.push(String(c)), true));
        fake.vms.clear();
        await fake.invoke("deploy_vm", { name: "devalice", image: DEFAULT_FLIST, vcpu: 4, memory_mb: 8192, disk_mb: 51200, rootfs_mb: 8192, authorized_keys: [KEY] });
        const stale = fake.vm("devalice")!.id;
        const fresh = await createVm({ sshKeys: [KEY, OWN] });
        expect(fresh.outs.vmId).not.toBe(stale);
        expect(fake.vm("devalice")!.ssh_keys).toEqual([KEY, OWN]);
        expect(lines.join("")).toMatch(/lacks 1 of this user's keys, and keys travel only with the deploy: deleting it to deploy afresh/);
        expect(fake.requests.some((r) => /inject|keys/.test(r.wire))).toBe(false);
    });
});

describe("the service's state words and error codes, through the binding", () => {
    it("a deploy the service reports as \"error\" stops the wait at once, is deleted, and the error says what the service said", async () => {
        await configure({ vmReadyTimeoutMinutes: "1" });
        fake.failingNodes.set(9, "node 9 ran out of disk");
        const started = Date.now();
        const err = await createVm({ node: 9 }).catch((e: Error) => e);
        expect(Date.now() - started).toBeLessThan(5000);
        expect((err as Error).message).toMatch(/^alice: VM \d+ \(devalice\) did not become ready: Hero Compute reports the deployment failed on node 9, state "error" \(Hero Compute said: node 9 ran out of disk\); it was deleted\./);
        expect(fake.vms.size).toBe(0);
        expect(wire("delete_vm")).toHaveLength(1);
    });

    it("a failed VM that no longer carries this user's deployer key is not deleted (the ownership proof holds for the clean-up too)", async () => {
        await configure({ vmReadyTimeoutMinutes: "1" });
        fake.failingNodes.set(9, "no capacity");
        const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGQ0b3RoZXJzdGFja3NkZXBsb3llcmtleW5vdG91cnMx other";
        const real = Compute.prototype.deployVm;
        vi.spyOn(Compute.prototype, "deployVm").mockImplementationOnce(async function (this: Compute, values, user) {
            const vm = await real.call(this, values, user);
            fake.vm("devalice")!.ssh_keys = [other]; // by the time it fails, its keys are not ours
            return vm;
        });
        const err = await createVm({ node: 9 }).catch((e: Error) => e);
        expect((err as Error).message).toMatch(/state "error" \(Hero Compute said: no capacity\); it was left alone: it does not carry this user's deployer key/);
        expect(fake.vms.size).toBe(1);
        expect(wire("delete_vm")).toHaveLength(0);
    });

    it("a state the binding's value map does not know stops the wait and names it, never a silent wait", async () => {
        await configure({ vmReadyTimeoutMinutes: "1", computeBinding: bindingWith((b) => delete b.states.Vm.pending) });
        const started = Date.now();
        const err = await createVm().catch((e: Error) => e);
        expect(Date.now() - started).toBeLessThan(5000);
        expect((err as Error).message).toMatch(/Hero Compute reports state "pending", which the binding .* does not map \(states\.Vm knows up, halted, error\): add "pending" under states\.Vm/);
        expect(fake.vms.size).toBe(0);
    });

    it("a gateway the service reports as \"error\" is deleted and the error says what it said", async () => {
        await configure();
        fake.failingGateways.set("devalice", "the gateway node refused the backend");
        const err = await gatewayProvider.create({ name: "devalice", username: "alice", backend: "http://[5a1::7]:9988", vmId: "200" }).catch((e: Error) => e);
        expect((err as Error).message).toBe('alice: gateway devalice did not become ready: Hero Compute reports it failed, state "error" (Hero Compute said: the gateway node refused the backend); it was deleted. Run pulumi up again.');
        expect(fake.gateways.has("devalice")).toBe(false);
    });

    it("not found is -32001 here: a gateway's first look-up finds nothing and deploys; a vanished VM reads as gone; name taken (-32002) names gatewayName", async () => {
        await configure();
        const { outs } = (await gatewayProvider.create({ name: "devalice", username: "alice", backend: "http://[5a1::7]:9988" })) as { outs: GatewayOutputs };
        expect(outs.fqdn).toBe("devalice.gent02.grid.tf");
        const vm = await createVm();
        fake.vanish("devalice");
        expect(await vmProvider.read!(vm.id, vm.outs)).toEqual({ id: "", props: {} });
        await vmProvider.delete!(vm.id, vm.outs);
        fake.foreignGateways.add("devbob");
        await expect(gatewayProvider.create({ name: "devbob", username: "bob", backend: "http://[5a1::9]:9988" })).rejects.toThrow(/^bob: the gateway name "devbob" is already taken on the grid by someone else\. Set gatewayName for bob/);
    });
});

describe("auth: the token travels bare in X-Api-Key", () => {
    it("every request carries it there, and a wrong one is reported with the service's JSON message, never the token", async () => {
        await configure();
        await createVm();
        expect(fake.requests.every((r) => r.authorization === TOKEN)).toBe(true);
        await configure({ computeToken: "wrong-key-91ad" });
        const err = await createVm({ name: "devbob", username: "bob" }).catch((e: Error) => e);
        expect((err as Error).message).toBe("Hero Compute compute.vm_list for bob failed (HTTP 401): missing or invalid token: this service wants X-Api-Key");
        expect((err as Error).message).not.toContain("wrong-key-91ad");
    });
});

describe("a failed gateway left by an earlier attempt", () => {
    it("is deleted once and deployed afresh; one the service keeps reporting failed stops with the service's words", async () => {
        await configure();
        const backend = "http://[5a1::7]:9988";
        fake.failingGateways.set("devalice", "the gateway node refused the backend");
        await fake.invoke("deploy_webgateway", { name: "devalice", backend });
        fake.failingGateways.clear();
        const { outs } = (await gatewayProvider.create({ name: "devalice", username: "alice", backend })) as { outs: GatewayOutputs };
        expect(outs.fqdn).toBe("devalice.gent02.grid.tf");
        expect(fake.gateways.get("devalice")!.state).toBe("ready");
        expect(fake.calls.delete_webgateway).toBe(1);

        // A service that re-creates the failed gateway as soon as it is deleted: no loop, one clear error.
        const real = fake.gateways.delete.bind(fake.gateways);
        fake.gateways.get("devalice")!.state = "failed";
        vi.spyOn(fake.gateways, "delete").mockImplementation((name: string) => (name === "devalice" ? true : real(name)));
        await expect(gatewayProvider.create({ name: "devalice", username: "alice", backend })).rejects.toThrow(/^alice: gateway devalice still reports failed after it was deleted; it was left alone/);
    });
});
