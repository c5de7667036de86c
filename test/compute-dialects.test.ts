/**
 * The VM and gateway providers against the fake's other dialects, in process:
 * the tracker's (keys registered by name before the deploy, `sid`, GB, the
 * flist by short name, a data disk, `backends[]`, a gateway node) with the
 * default binding, and the prefixed one with today's binding (the prefix found
 * without configuration). The ownership rules hold in each.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadBinding } from "../providers/compute/bind";
import { gatewayProvider, type GatewayOutputs } from "../providers/compute/gateway";
import { DEFAULT_FLIST, type VmInputs, type VmOutputs, vmProvider } from "../providers/compute/vm";
import { configRequest, FakeCompute, TODAY_BINDING_PATH } from "./fakes/compute";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1cFBTJ6PJcaV+mZ+0lVyOar+nVaRWQCHrpeTl2YJRU deployer";
const OWN = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBWDF9l2irR9lZK9SzoXUYhyRqTBBNb5mrK6r7AHCk+Z alice@laptop";
const fast = { computePollSeconds: "0.005", computeProgressSeconds: "0.02", computeBackoffSeconds: "0.001", computeRequestTimeoutSeconds: "2", gatewayReleaseWaitSeconds: "0.2" };

const vmInputs = (over: Partial<VmInputs> = {}): VmInputs => ({ name: "devalice", username: "alice", memoryMb: 8192, cpu: 4, diskGb: 50, sshKeys: [KEY, OWN], flist: DEFAULT_FLIST, ...over });

async function configure(url: string, over: Record<string, string> = {}): Promise<void> {
    const cfg = configRequest({ computeUrl: url, ...fast, ...over });
    await vmProvider.configure!(cfg);
    await gatewayProvider.configure!(cfg);
}

async function createVm(over: Partial<VmInputs> = {}): Promise<{ id: string; outs: VmOutputs }> {
    const checked = await vmProvider.check!({}, vmInputs(over));
    expect(checked.failures).toEqual([]);
    return (await vmProvider.create(checked.inputs)) as { id: string; outs: VmOutputs };
}

describe("the tracker's dialect, with the default binding", () => {
    let fake: FakeCompute;
    beforeAll(async () => {
        fake = await FakeCompute.start({ dialect: "tracker", defaultNode: 7 });
    });
    afterEach(() => {
        fake.vms.clear();
        fake.gateways.clear();
        fake.pendingKeys.clear();
        fake.requests.length = 0;
        for (const k of Object.keys(fake.calls)) delete fake.calls[k];
    });
    afterAll(async () => {
        await fake.stop();
    });

    it("registers the keys by name first, then deploys with no keys: GB sizes, the image's short name, a data disk, rootfs as the binding's constant", async () => {
        await configure(fake.httpUrl);
        const { id, outs } = await createVm({ node: 12 });
        const wire = fake.requests.filter((r) => r.method !== "list_vms").map((r) => r.wire);
        expect(wire.slice(0, 2)).toEqual(["ComputeService.inject_ssh_keys", "ComputeService.deploy_vm"]);
        expect(fake.requests.find((r) => r.method === "inject_ssh_keys")!.params).toEqual({ name: "devalice", ssh_keys: [KEY, OWN] });
        expect(fake.requests.find((r) => r.method === "deploy_vm")!.params).toEqual({
            name: "devalice", flist: "ubuntu-24.04-latest", cpu: 4, memory: 8, disk: 50, publicip: false, node_id: 12, rootfs: 16,
        });
        const vm = fake.vm("devalice")!;
        expect(vm).toMatchObject({ memory: 8192, disk_size: 50 * 1024, rootfs_size: 16 * 1024, ssh_keys: [KEY, OWN], state: "running" });
        // `sid` on the wire, our vmId in the outputs; sizes back in MB.
        expect(outs).toMatchObject({ vmId: vm.id, nodeId: 12, myceliumIp: vm.mycelium_ip, state: "running" });
        expect(id).toBe(`${fake.httpUrl}#${vm.id}`);
        expect(fake.requests.some((r) => r.method === "get_vm" || r.method === "delete_vm")).toBe(false);
        const read = await vmProvider.read!(id, outs);
        expect(read.id).toBe(id);
        expect(fake.requests.find((r) => r.method === "get_vm")!.params).toEqual({ sid: vm.id });
    });

    it("an added key is registered by name, in place; delete sends the sid", async () => {
        await configure(fake.httpUrl);
        const { id, outs } = await createVm({ sshKeys: [KEY] });
        await vmProvider.update!(id, outs, vmInputs());
        expect(fake.requests.filter((r) => r.method === "inject_ssh_keys").at(-1)!.params).toEqual({ name: "devalice", ssh_keys: [OWN] });
        expect(fake.vm("devalice")!.ssh_keys).toEqual([KEY, OWN]);
        await vmProvider.delete!(id, outs);
        expect(fake.requests.find((r) => r.method === "delete_vm")!.params).toEqual({ sid: outs.vmId });
        expect(fake.vms.size).toBe(0);
    });

    it("ownership holds with keys first: a leftover reporting this user's deployer key is adopted; another stack's same-named VM is refused and left alone", async () => {
        await configure(fake.httpUrl);
        // A crashed attempt of ours got as far as registering the keys and deploying.
        await fake.invoke("inject_ssh_keys", { name: "devalice", ssh_keys: [KEY] });
        await fake.invoke("deploy_vm", { name: "devalice", flist: "ubuntu-24.04-latest", cpu: 4, memory: 8, disk: 50, rootfs: 16, publicip: false });
        const { outs } = await createVm();
        expect(fake.calls.deploy_vm).toBe(1);
        expect(outs.vmId).toBe(fake.vm("devalice")!.id);
        fake.vms.clear();
        const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGQ0b3RoZXJzdGFja3NkZXBsb3llcmtleW5vdG91cnMx staging-deployer";
        await fake.invoke("inject_ssh_keys", { name: "devalice", ssh_keys: [other] });
        await fake.invoke("deploy_vm", { name: "devalice", flist: "ubuntu-24.04-latest", cpu: 4, memory: 8, disk: 50, rootfs: 16, publicip: false });
        const injects = fake.calls.inject_ssh_keys;
        await expect(createVm()).rejects.toThrow(/nothing proves it belongs to this deployment: its keys \(1\) do not include this user's deployer key/);
        expect(fake.vm("devalice")!.ssh_keys).toEqual([other]);
        expect(fake.calls.inject_ssh_keys).toBe(injects);
        expect(fake.calls.delete_vm).toBeUndefined();
    });

    it("a gateway gets backends[] and the configured gateway node; with no VM on record it is ours by its backend", async () => {
        await configure(fake.httpUrl, { computeGatewayNode: "11" });
        const backend = "http://[5a1:2b::7]:9997";
        const checked = await gatewayProvider.check!({}, { name: "devalice", username: "alice", backend, vmId: "00a1" });
        const { id, outs } = (await gatewayProvider.create(checked.inputs)) as { id: string; outs: GatewayOutputs };
        expect(fake.requests.find((r) => r.method === "deploy_webgateway")!.params).toEqual({ name: "devalice", backends: [backend], node_id: 11 });
        expect(fake.gateways.get("devalice")).toMatchObject({ backend, node_id: 11, vm_id: null });
        expect(outs).toMatchObject({ fqdn: "devalice.gent02.grid.tf", backend });
        expect((await gatewayProvider.read!(id, outs)).id).toBe(id);
        // Re-pointed elsewhere outside the tool: no longer provably ours, so neither read as ours nor deleted.
        fake.gateways.get("devalice")!.backend = "http://[5a1:2b::9]:9997";
        expect((await gatewayProvider.read!(id, outs)).id).toBe("");
        await gatewayProvider.delete!(id, outs);
        expect(fake.gateways.has("devalice")).toBe(true);
    });
});

describe("the prefixed dialect, with today's binding", () => {
    let fake: FakeCompute;
    beforeAll(async () => {
        fake = await FakeCompute.start({ dialect: "prefixed" });
    });
    afterAll(async () => {
        await fake.stop();
    });

    it("tries the bare name, then the prefixed one, and remembers per endpoint which answered", async () => {
        await configure(fake.httpUrl, { computeBinding: TODAY_BINDING_PATH });
        const { outs } = await createVm();
        const lists = fake.requests.filter((r) => r.method === "list_vms").map((r) => r.wire);
        expect(lists[0]).toBe("list_vms"); // refused: -32601, nothing processed
        expect(lists.slice(1).every((w) => w === "ComputeService.list_vms")).toBe(true);
        expect(fake.requests.filter((r) => r.wire === "deploy_vm")).toHaveLength(1);
        expect(fake.calls.deploy_vm).toBe(1);
        expect(fake.requests.filter((r) => r.wire === "ComputeService.deploy_vm")[0].params).toMatchObject({ ssh_keys: [KEY, OWN], rootfs_size: 50 * 1024, memory: 8192 });
        expect(outs.state).toBe("running");
    });

    it("a binding naming a method the service has in neither form fails clearly, saying to run npm run preflight", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "binding-"));
        try {
            const b = loadBinding(TODAY_BINDING_PATH) as any;
            delete b.file;
            b.operations.listVms.method = "list_machines";
            fs.writeFileSync(path.join(dir, "b.json"), JSON.stringify(b));
            await configure(fake.httpUrl, { computeBinding: path.join(dir, "b.json") });
            await expect(createVm({ name: "devbob", username: "bob" })).rejects.toThrow(
                /Hero Compute list_machines for bob failed \(-32601\): Method not found: list_machines \(tried list_machines and ComputeService\.list_machines for our listVms; the binding .*b\.json does not fit this Hero Compute: run npm run preflight\)/,
            );
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
