/**
 * Adoption needs proof at every moment a VM or gateway of our name can be taken
 * as ours: a leftover found before deploying (a retry), a lost deploy answer, a
 * "name exists" answer, and the recorded object on refresh, key injection and
 * delete. Each test plants a look-alike (another stack's, its key only) at that
 * moment and proves it is refused and left untouched.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Compute } from "../providers/compute/bind";
import { RpcError } from "../providers/compute/client";
import { gatewayProvider, type GatewayInputs, type GatewayOutputs } from "../providers/compute/gateway";
import { DEFAULT_FLIST, type VmInputs, type VmOutputs, vmProvider } from "../providers/compute/vm";
import { configRequest, FakeCompute, TODAY_BINDING_PATH } from "./fakes/compute";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1cFBTJ6PJcaV+mZ+0lVyOar+nVaRWQCHrpeTl2YJRU deployer";
const OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBWDF9l2irR9lZK9SzoXUYhyRqTBBNb5mrK6r7AHCk+Z staging-deployer";
const fast = { computePollSeconds: "0.005", computeProgressSeconds: "0.02", computeBackoffSeconds: "0.001", computeRequestTimeoutSeconds: "2", gatewayReleaseWaitSeconds: "0.1" };

let fake: FakeCompute;
let stderr: string[];

const vmInputs = (): VmInputs => ({ name: "devalice", username: "alice", memoryMb: 8192, cpu: 4, diskGb: 50, sshKeys: [KEY], flist: DEFAULT_FLIST });
/** Another stack's VM of our name and size, carrying only its own key. */
const plantVm = () => fake.invoke("deploy_vm", { name: "devalice", flist: DEFAULT_FLIST, cpu: 4, memory: 8192, rootfs_size: 51200, mycelium: true, public_ip: false, ssh_keys: [OTHER] });
/** What the look-alike is (its provisioning may advance): compared before and after, it must not change. */
const snapshot = () => {
    const v = fake.vm("devalice");
    return JSON.stringify(v && { id: v.id, name: v.name, keys: v.ssh_keys, cpu: v.cpu, memory: v.memory });
};

beforeAll(async () => {
    fake = await FakeCompute.start({ dialect: "today", defaultNode: 7 });
    const cfg = configRequest({ computeUrl: fake.httpUrl, computeBinding: TODAY_BINDING_PATH, ...fast });
    await vmProvider.configure!(cfg);
    await gatewayProvider.configure!(cfg);
});
afterEach(() => {
    fake.vms.clear();
    fake.gateways.clear();
    fake.faults.length = 0;
    for (const k of Object.keys(fake.calls)) delete fake.calls[k];
    vi.restoreAllMocks();
});
afterAll(async () => {
    await fake.stop();
});

function quiet(): void {
    stderr = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: any) => (stderr.push(String(chunk)), true));
}

describe("a VM of our name is adopted only with this user's deployer key", () => {
    it("regression: a look-alike planted as our deploy_vm goes out, its answer lost, is refused and left untouched (was adopted by name)", async () => {
        quiet();
        vi.spyOn(Compute.prototype, "deployVm").mockImplementationOnce(async () => {
            await plantVm(); // another stack's deploy lands; ours never arrives and its answer is lost
            throw new RpcError("deploy_vm", "alice", "ECONNRESET", "socket hang up", true);
        });
        const err = await vmProvider.create(vmInputs()).then(() => undefined, (e: Error) => e);
        expect(err?.message).toMatch(/^alice: a VM named devalice .* appeared while deploy_vm's answer was in doubt .* nothing proves it belongs to this deployment: its keys \(1\) do not include this user's deployer key/);
        expect(fake.vm("devalice")!.ssh_keys).toEqual([OTHER]);
        expect(fake.calls.inject_ssh_keys ?? 0).toBe(0);
        expect(fake.calls.delete_vm ?? 0).toBe(0);
        expect(stderr.join("")).not.toMatch(/adopting/);
    });

    it("regression: a look-alike planted between our look-up and deploy_vm, which then says the name exists, is refused and left untouched", async () => {
        quiet();
        const real = Compute.prototype.deployVm;
        vi.spyOn(Compute.prototype, "deployVm").mockImplementationOnce(async function (this: Compute, values, user) {
            await plantVm();
            return real.call(this, values, user); // answers -32011, name exists
        });
        await expect(vmProvider.create(vmInputs())).rejects.toThrow(/appeared while deploy_vm's answer was in doubt.*It was left alone/);
        expect(fake.vm("devalice")!.ssh_keys).toEqual([OTHER]);
        expect(fake.calls.deploy_vm).toBe(2); // the look-alike's, and our refused one
        expect(fake.calls.inject_ssh_keys ?? 0).toBe(0);
        expect(fake.calls.delete_vm ?? 0).toBe(0);
    });

    it("a look-alike found by a retry (the next pulumi up) is refused and left untouched", async () => {
        quiet();
        await plantVm();
        const before = snapshot();
        await expect(vmProvider.create(vmInputs())).rejects.toThrow(/already exists on .*nothing proves it belongs/);
        expect(snapshot()).toBe(before);
        expect(fake.calls.inject_ssh_keys ?? 0).toBe(0);
    });

    it("our own VM, its deploy answer lost, still carries our key and is adopted", async () => {
        quiet();
        fake.fault("drop", { method: "deploy_vm" });
        const { outs } = (await vmProvider.create(vmInputs())) as { outs: VmOutputs };
        expect(outs.vmId).toBe(fake.vm("devalice")!.id);
        expect(stderr.join("")).toMatch(/answer was lost; adopting VM \w+ \(devalice\), which carries this user's deployer key/);
    });

    it("regression: a recorded VM that no longer carries the deployer key is not deleted, not refreshed as ours, and gets no keys (was matched on id and name)", async () => {
        quiet();
        const { id, outs } = (await vmProvider.create(vmInputs())) as { id: string; outs: VmOutputs };
        const vm = fake.vm("devalice")!;
        vm.ssh_keys = [OTHER]; // the id and name now hold a VM that is not provably ours
        const before = snapshot();
        await vmProvider.delete!(id, outs);
        expect(fake.calls.delete_vm ?? 0).toBe(0);
        expect(stderr.join("")).toMatch(/warning: not going to delete VM \w+ \(devalice\): it no longer carries this user's deployer key/);
        expect((await vmProvider.read!(id, outs)).id).toBe("");
        await expect(vmProvider.update!(id, outs, { ...vmInputs(), sshKeys: [KEY, OTHER.replace("staging-deployer", "x")] })).rejects.toThrow(/no longer this stack's; no key was added/);
        expect(fake.calls.inject_ssh_keys ?? 0).toBe(0);
        expect(snapshot()).toBe(before);
    });
});

describe("a gateway of our name is adopted only when it points at this user's VM", () => {
    const gw = (): GatewayInputs => ({ name: "devalice", username: "alice", backend: "http://[5a1:2b::7]:9988", vmId: "00a1" });
    const plantGw = () => fake.invoke("deploy_webgateway", { name: "devalice", backend: "http://[5a1:ff::9]:9988", vm_id: "0zzz" });

    it("a look-alike planted as our deploy_webgateway goes out, its answer lost, is refused and left untouched", async () => {
        quiet();
        vi.spyOn(Compute.prototype, "deployGateway").mockImplementationOnce(async () => {
            await plantGw();
            throw new RpcError("deploy_webgateway", "alice", "ECONNRESET", "socket hang up", true);
        });
        await expect(gatewayProvider.create(gw())).rejects.toThrow(/is held by a gateway pointing at http:\/\/\[5a1:ff::9\]:9988 \(VM 0zzz\).*It was left alone/);
        expect(fake.gateways.get("devalice")).toMatchObject({ backend: "http://[5a1:ff::9]:9988", vm_id: "0zzz" });
        expect(fake.calls.delete_webgateway ?? 0).toBe(0);
    });

    it("a look-alike planted before our deploy_webgateway, which then says the name exists, is refused and left untouched", async () => {
        quiet();
        const real = Compute.prototype.deployGateway;
        vi.spyOn(Compute.prototype, "deployGateway").mockImplementationOnce(async function (this: Compute, values, user) {
            await plantGw();
            return real.call(this, values, user);
        });
        await expect(gatewayProvider.create(gw())).rejects.toThrow(/is held by a gateway pointing at .*It was left alone/);
        expect(fake.gateways.get("devalice")!.vm_id).toBe("0zzz");
        expect(fake.calls.delete_webgateway ?? 0).toBe(0);
    });

    it("a recorded gateway now pointing at another VM is not deleted by delete or refreshed as ours", async () => {
        quiet();
        const { id, outs } = (await gatewayProvider.create(gw())) as { id: string; outs: GatewayOutputs };
        Object.assign(fake.gateways.get("devalice")!, { backend: "http://[5a1:ff::9]:9988", vm_id: "0zzz" });
        await gatewayProvider.delete!(id, outs);
        expect(fake.gateways.get("devalice")!.vm_id).toBe("0zzz");
        expect((await gatewayProvider.read!(id, outs)).id).toBe("");
    });
});
