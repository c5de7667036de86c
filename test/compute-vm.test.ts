/**
 * HeroVm's provider against the fake ComputeService, in process: the engine's
 * calls (check, diff, create, read, update, delete) in the order `pulumi up`,
 * `pulumi refresh` and `pulumi destroy` make them. Deadlines are shortened through
 * the same config keys the stack uses, so nothing waits for real minutes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { gatewayProvider } from "../providers/compute/gateway";
import { checkVm, DEFAULT_FLIST, diffVm, VmInputs, VmOutputs, vmProvider } from "../providers/compute/vm";
import { pollRoundsMade } from "../providers/compute/poller";
import { configRequest, FakeCompute, TODAY_BINDING_PATH } from "./fakes/compute";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1cFBTJ6PJcaV+mZ+0lVyOar+nVaRWQCHrpeTl2YJRU deployer";
const OWN = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBWDF9l2irR9lZK9SzoXUYhyRqTBBNb5mrK6r7AHCk+Z alice@laptop";

function inputs(over: Partial<VmInputs> = {}): VmInputs {
    return { name: "devalice", username: "alice", memoryMb: 8192, cpu: 4, diskGb: 50, sshKeys: [KEY], flist: DEFAULT_FLIST, ...over };
}

let fake: FakeCompute;
const fast = { computePollSeconds: "0.005", computeProgressSeconds: "0.02", computeBackoffSeconds: "0.001", computeRequestTimeoutSeconds: "2" };

async function configure(over: Record<string, string> = {}, url = fake.httpUrl): Promise<void> {
    const cfg = configRequest({ computeUrl: url, computeToken: "tok-vm-1", computeBinding: TODAY_BINDING_PATH, ...fast, ...over });
    await vmProvider.configure!(cfg);
    await gatewayProvider.configure!(cfg);
}

async function create(over: Partial<VmInputs> = {}): Promise<{ id: string; outs: VmOutputs }> {
    const checked = await vmProvider.check!({}, inputs(over));
    expect(checked.failures).toEqual([]);
    return (await vmProvider.create(checked.inputs)) as { id: string; outs: VmOutputs };
}

beforeAll(async () => {
    fake = await FakeCompute.start({ dialect: "today", token: "tok-vm-1", defaultNode: 7 });
});
afterEach(() => {
    fake.vms.clear();
    fake.gateways.clear();
    fake.stuckNodes.clear();
    fake.deployFailures.clear();
    fake.faults.length = 0;
    fake.requests.length = 0;
    fake.deploysInFlight = 0;
    fake.maxDeploysInFlight = 0;
    for (const k of Object.keys(fake.calls)) delete fake.calls[k];
    vi.restoreAllMocks();
});
afterAll(async () => {
    await fake.stop();
});

describe("create", () => {
    it("deploys with mycelium on and public IPs off, waits for the mycelium IP, and keys the record on endpoint + id", async () => {
        await configure();
        const { id, outs } = await create({ node: 12, sshKeys: [`${KEY}\n`, OWN, KEY] });
        const vm = fake.vm("devalice")!;
        expect(vm.state).toBe("running");
        expect(outs).toMatchObject({
            vmId: vm.id,
            computeEndpoint: fake.httpUrl,
            nodeId: 12,
            myceliumIp: vm.mycelium_ip,
            state: "running",
            sshKeys: [KEY, OWN], // trimmed (tls keys end in a newline) and de-duplicated
        });
        expect(id).toBe(`${fake.httpUrl}#${vm.id}`);
        const deploy = fake.requests.find((r) => r.method === "deploy_vm")!;
        expect(deploy.params).toEqual({
            name: "devalice", flist: DEFAULT_FLIST, cpu: 4, memory: 8192, rootfs_size: 50 * 1024,
            mycelium: true, public_ip: false, ssh_keys: [KEY, OWN], node_id: 12,
        });
        expect(deploy.authorization).toBe("Bearer tok-vm-1");
        expect(JSON.stringify(outs)).not.toContain("tok-vm-1");
    });

    it("works over the Unix socket too", async () => {
        await configure({}, fake.unixUrl);
        const { outs } = await create();
        expect(outs.computeEndpoint).toBe(fake.unixUrl);
        expect(fake.requests.filter((r) => r.method === "deploy_vm").at(-1)!.via).toBe("unix");
    });

    it("logs what it waits for, e.g. `alice: waiting for VM 005o on node 7 to get its mycelium address: deploying (0s)`", async () => {
        const fakeSlow = await FakeCompute.start({ dialect: "today", provisionMs: 120, defaultNode: 7 });
        try {
            await configure({}, fakeSlow.httpUrl);
            const lines: string[] = [];
            vi.spyOn(process.stderr, "write").mockImplementation((chunk: any) => (lines.push(String(chunk)), true));
            await create();
            const id = fakeSlow.vm("devalice")!.id;
            expect(lines).toContain(`alice: VM ${id} deploying on node 7\n`);
            expect(lines.some((l) => new RegExp(`^alice: waiting for VM ${id} on node 7 to get its mycelium address: deploying \\(\\d+s\\)\\n$`).test(l))).toBe(true);
            expect(lines.at(-1)).toMatch(new RegExp(`^alice: VM ${id} on node 7 ready at 5a1:`));
        } finally {
            await fakeSlow.stop();
        }
    });

    it("regression: a retry after a crash adopts its own VM by name instead of deploying a second one", async () => {
        await configure();
        // The crashed attempt got as far as deploy_vm.
        await fake.invoke("deploy_vm", { name: "devalice", flist: DEFAULT_FLIST, cpu: 4, memory: 8192, rootfs_size: 51200, mycelium: true, public_ip: false, ssh_keys: [KEY] });
        const { outs } = await create();
        expect(fake.vms.size).toBe(1);
        expect(fake.calls.deploy_vm).toBe(1);
        expect(outs.vmId).toBe(fake.vm("devalice")!.id);
        expect(fake.requests.find((r) => r.method === "inject_ssh_keys")!.params).toEqual({ vm_id: outs.vmId, ssh_keys: [KEY] });
    });

    it("regression: deploy_vm is never blindly retried: when its answer is lost, the VM is looked up and adopted", async () => {
        await configure();
        fake.fault("drop", { method: "deploy_vm" });
        const { outs } = await create();
        expect(fake.calls.deploy_vm).toBe(1);
        expect(fake.vms.size).toBe(1);
        expect(outs.state).toBe("running");
    });

    it("after a 503 or reset on deploy_vm (nothing deployed) it looks up first, then deploys once", async () => {
        await configure();
        fake.fault("503", { method: "deploy_vm" });
        fake.fault("reset", { method: "deploy_vm" });
        const rounds = pollRoundsMade(fake.httpUrl);
        await create();
        expect(fake.requests.filter((r) => r.method === "deploy_vm")).toHaveLength(3);
        expect(fake.calls.deploy_vm).toBe(1);
        // Before the first deploy and after each unsure answer; then the readiness poll rounds.
        expect(fake.calls.list_vms).toBe(3 + pollRoundsMade(fake.httpUrl) - rounds);
        expect(fake.vms.size).toBe(1);
    });

    it("a deploy error fails with an RpcError naming method, user, code and the server's message; nothing is left", async () => {
        await configure();
        fake.deployFailures.set("devalice", "node 7 has no capacity");
        await expect(create()).rejects.toThrow("Hero Compute deploy_vm for alice failed (-32020): node 7 has no capacity");
        expect(fake.vms.size).toBe(0);
    });

    it("on timeout it deletes what it deployed and fails with the reason; nothing leaks on the fake", async () => {
        await configure({ vmReadyTimeoutMinutes: String(0.25 / 60) }); // 250 ms
        fake.stuckNodes.add(9);
        const err = await create({ node: 9 }).catch((e: Error) => e);
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).toMatch(/^alice: VM \w+ \(devalice\) did not become ready: no mycelium IP within 0s \(vmReadyTimeoutMinutes\); last state deploying on node 9; it was deleted\. Run pulumi up again, or pin another node \(vm\.node in the users file\) or raise vmReadyTimeoutMinutes if it keeps happening\.$/);
        expect(fake.vms.size).toBe(0);
        expect(fake.calls.delete_vm).toBe(1);
        expect(fake.deploysInFlight).toBe(0);
    });

    it("a failed leftover of ours is deleted and deployed afresh", async () => {
        await configure();
        await fake.invoke("deploy_vm", { name: "devalice", flist: DEFAULT_FLIST, cpu: 4, memory: 8192, rootfs_size: 51200, mycelium: true, public_ip: false, ssh_keys: [KEY] });
        const old = fake.vm("devalice")!;
        old.state = "failed";
        const { outs } = await create();
        expect(outs.vmId).not.toBe(old.id);
        expect(fake.vms.size).toBe(1);
    });

    it("a VM of that name with another size is refused and left alone (never delete what we did not create)", async () => {
        await configure();
        await fake.invoke("deploy_vm", { name: "devalice", flist: DEFAULT_FLIST, cpu: 2, memory: 2048, rootfs_size: 10240, mycelium: true, public_ip: false, ssh_keys: [KEY] });
        await expect(create()).rejects.toThrow(/already exists .* does not match this deployment \(8192 MB, 4 cpu\)\. It was left alone\./);
        expect(fake.vm("devalice")!.memory).toBe(2048);
        expect(fake.calls.delete_vm).toBeUndefined();
    });
});

describe("ownership: a name is no proof", () => {
    const OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBWDF9l2irR9lZK9SzoXUYhyRqTBBNb5mrK6r7AHCk+Z staging-deployer";
    const lookAlike = (over: Record<string, unknown> = {}) =>
        fake.invoke("deploy_vm", { name: "devalice", flist: DEFAULT_FLIST, cpu: 4, memory: 8192, rootfs_size: 51200, mycelium: true, public_ip: false, ssh_keys: [OTHER], ...over });

    it("regression: a VM of our name and size without this user's deployer key (another stack's) is refused: no key injected, nothing deleted", async () => {
        await configure();
        await lookAlike();
        const err = await create().then(() => undefined, (e: Error) => e);
        expect(err?.message).toMatch(/^alice: a VM named devalice \(id \w+, state running\) already exists on .*, but nothing proves it belongs to this deployment: its keys \(1\) do not include this user's deployer key ssh-ed25519 AAAA.*It was left alone\..*npm run audit/);
        expect(fake.vm("devalice")!.ssh_keys).toEqual([OTHER]);
        expect(fake.calls.inject_ssh_keys).toBeUndefined();
        expect(fake.calls.delete_vm).toBeUndefined();
        expect(fake.vms.size).toBe(1);
    });

    it("a failed look-alike is not deleted either", async () => {
        await configure();
        await lookAlike();
        fake.vm("devalice")!.state = "failed";
        await expect(create()).rejects.toThrow(/nothing proves it belongs to this deployment/);
        expect(fake.calls.delete_vm).toBeUndefined();
    });

    it("the deployer key is compared without its comment", async () => {
        await configure();
        await lookAlike({ ssh_keys: [KEY.replace(/ deployer$/, " renamed-comment")] });
        const { outs } = await create();
        expect(outs.vmId).toBe(fake.vm("devalice")!.id);
        expect(fake.calls.deploy_vm).toBe(1); // the look-alike's own deploy, none by us
    });

    it("when the service reports no keys, a leftover cannot be proven ours and is refused", async () => {
        const quiet = await FakeCompute.start({ dialect: "today", hideVmKeys: true });
        try {
            await configure({}, quiet.httpUrl);
            await quiet.invoke("deploy_vm", { name: "devalice", flist: DEFAULT_FLIST, cpu: 4, memory: 8192, rootfs_size: 51200, mycelium: true, public_ip: false, ssh_keys: [KEY] });
            await expect(create()).rejects.toThrow(/Hero Compute does not report its keys\. It was left alone/);
            expect(quiet.vms.size).toBe(1);
        } finally {
            await quiet.stop();
        }
    });
});

describe("check and diff (preview): no network", () => {
    it("check refuses bad inputs with one failure per property", async () => {
        const { failures } = checkVm({ name: "Dev-Alice", username: "", memoryMb: 100, cpu: 64, diskGb: 0, node: -1, sshKeys: ["not a key"], flist: "http://x" });
        expect(failures.map((f) => f.property)).toEqual(["name", "username", "memoryMb", "cpu", "diskGb", "node", "flist", "sshKeys"]);
        expect(checkVm({ ...inputs(), sshKeys: [] }).failures).toEqual([{ property: "sshKeys", reason: "must list at least the deployer's public key" }]);
    });

    it("regression: values still unknown in a preview (a new tls key) pass check, and an unknown key list replaces", () => {
        const U = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
        expect(checkVm({ ...inputs(), sshKeys: U }).failures).toEqual([]);
        expect(checkVm({ ...inputs(), sshKeys: [U, OWN] }).failures).toEqual([]);
        const olds: VmOutputs = { ...inputs(), vmId: "00aa", computeEndpoint: "x", nodeId: 7, myceliumIp: "5a1::1", state: "running" };
        expect(diffVm(olds, { ...inputs(), sshKeys: U as never })).toEqual({ changes: true, replaces: ["sshKeys"], deleteBeforeReplace: true });
    });

    it("check and diff make no request to the service", async () => {
        await configure();
        const before = fake.requests.length;
        await vmProvider.check!({}, inputs());
        const olds = { ...inputs(), vmId: "00aa", computeEndpoint: fake.httpUrl, nodeId: 7, myceliumIp: "5a1::1", state: "running" };
        await vmProvider.diff!("x", olds, inputs({ memoryMb: 4096 }));
        expect(fake.requests.length).toBe(before);
    });

    it("memory, cpu, disk, node, flist or name changes replace, deleting first; an added key updates in place; a removed key replaces", () => {
        const olds: VmOutputs = { ...inputs({ sshKeys: [KEY, OWN] }), vmId: "00aa", computeEndpoint: "x", nodeId: 7, myceliumIp: "5a1::1", state: "running" };
        const news = (over: Partial<VmInputs>) => ({ ...inputs({ sshKeys: [KEY, OWN] }), ...over });
        expect(diffVm(olds, news({}))).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
        expect(diffVm(olds, news({ memoryMb: 16384 }))).toEqual({ changes: true, replaces: ["memoryMb"], deleteBeforeReplace: true });
        expect(diffVm(olds, news({ cpu: 8, diskGb: 80, node: 3 })).replaces).toEqual(["cpu", "diskGb", "node"]);
        expect(diffVm(olds, news({ sshKeys: [KEY, OWN, "ssh-ed25519 AAAAnew new"] }))).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
        expect(diffVm(olds, news({ sshKeys: [KEY] }))).toEqual({ changes: true, replaces: ["sshKeys"], deleteBeforeReplace: true });
        expect(diffVm(olds, news({ sshKeys: [OWN, KEY] })).changes).toBe(false);
        expect(diffVm(olds, news({ username: "alice2" }))).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    });
});

describe("update, replace, refresh and delete", () => {
    it("replace on a memory change: delete first, then one new VM with the new memory", async () => {
        await configure();
        const first = await create();
        const d = await vmProvider.diff!(first.id, first.outs, inputs({ memoryMb: 16384 }));
        expect(d).toMatchObject({ replaces: ["memoryMb"], deleteBeforeReplace: true });
        await vmProvider.delete!(first.id, first.outs); // the engine deletes first, as diff asked
        const second = await create({ memoryMb: 16384 });
        expect([...fake.vms.values()].map((v) => [v.id, v.memory])).toEqual([[second.outs.vmId, 16384]]);
        expect(second.outs.vmId).not.toBe(first.outs.vmId);
    });

    it("an added SSH key goes through inject_ssh_keys, in place", async () => {
        await configure();
        const { id, outs } = await create();
        const { outs: after } = (await vmProvider.update!(id, outs, inputs({ sshKeys: [KEY, OWN] }))) as { outs: VmOutputs };
        expect(fake.requests.find((r) => r.method === "inject_ssh_keys")!.params).toEqual({ vm_id: outs.vmId, ssh_keys: [OWN] });
        expect(fake.vm("devalice")!.ssh_keys).toEqual([KEY, OWN]);
        expect(after).toMatchObject({ vmId: outs.vmId, sshKeys: [KEY, OWN], myceliumIp: outs.myceliumIp });
    });

    it("delete twice: the second delete finds nothing and succeeds", async () => {
        await configure();
        const { id, outs } = await create();
        await vmProvider.delete!(id, outs);
        await vmProvider.delete!(id, outs);
        expect(fake.vms.size).toBe(0);
        expect(fake.calls.delete_vm).toBe(1);
    });

    it("refresh after the VM vanished outside the tool reports it gone; a stopped VM reads as stopped", async () => {
        await configure();
        const { id, outs } = await create();
        fake.stopVm("devalice");
        expect((await vmProvider.read!(id, outs)).props).toMatchObject({ state: "stopped", vmId: outs.vmId });
        fake.vanish("devalice");
        expect(await vmProvider.read!(id, outs)).toEqual({ id: "", props: {} });
    });

    it("regression: an id now naming someone else's VM is neither read as ours nor deleted", async () => {
        await configure();
        const { id, outs } = await create();
        fake.vm("devalice")!.name = "devbob"; // as if ours vanished and the daemon reused the id
        expect((await vmProvider.read!(id, outs)).id).toBe("");
        await vmProvider.delete!(id, outs);
        expect(fake.vm("devbob")).toBeDefined();
        expect(fake.calls.delete_vm).toBeUndefined();
    });

    it("regression: a VM recorded on another compute endpoint is not touched (ids collide across daemons)", async () => {
        await configure();
        const { id, outs } = await create();
        const elsewhere = { ...outs, computeEndpoint: "http://other-daemon:9988/compute/rpc" };
        await expect(vmProvider.delete!(id, elsewhere)).rejects.toThrow(/lives on http:\/\/other-daemon:9988\/compute\/rpc, but computeUrl is now/);
        expect(fake.vms.size).toBe(1);
    });
});

describe("concurrency", () => {
    it("caps the changing calls in flight, not the readiness waits: five VMs provision at once with a cap of 2", async () => {
        const slow = await FakeCompute.start({ dialect: "today", provisionMs: 150, gatewayDeployMs: 30, callMs: { deploy_vm: 40 } });
        try {
            await configure({ computeConcurrency: "2", computePollSeconds: "0.02" }, slow.httpUrl);
            const users = ["alice", "bob", "carol", "dave", "erin"];
            await Promise.all([
                ...users.map(async (u) => vmProvider.create((await vmProvider.check!({}, inputs({ name: `dev${u}`, username: u }))).inputs)),
                ...users.slice(0, 3).map((u) => gatewayProvider.create({ name: `gw${u}`, username: u, backend: "http://[5a1::1]:9988" })),
            ]);
            expect(slow.vms.size).toBe(5);
            expect(slow.gateways.size).toBe(3);
            expect(slow.maxChangingCallsInFlight).toBe(2);
            expect(slow.maxDeploysInFlight).toBeGreaterThanOrEqual(4); // VMs provisioning at once: the wait holds no slot
            expect(slow.deploysInFlight).toBe(0);
        } finally {
            await slow.stop();
        }
    });

    it("polls all deploying VMs with one list_vms per round and no get_vm", async () => {
        const slow = await FakeCompute.start({ dialect: "today", provisionMs: 200 });
        try {
            await configure({ computeConcurrency: "5", computePollSeconds: "0.05" }, slow.httpUrl);
            const before = pollRoundsMade(slow.httpUrl);
            const users = ["alice", "bob", "carol", "dave", "erin"];
            await Promise.all(users.map(async (u) => vmProvider.create((await vmProvider.check!({}, inputs({ name: `dev${u}`, username: u }))).inputs)));
            const rounds = pollRoundsMade(slow.httpUrl) - before;
            expect(slow.calls.get_vm ?? 0).toBe(0);
            // One lookup per create (adoption by name), then the shared rounds: far fewer than one call per VM per round.
            expect(slow.calls.list_vms).toBe(users.length + rounds);
            expect(rounds).toBeGreaterThan(0);
            expect(rounds).toBeLessThan(users.length * 4);
        } finally {
            await slow.stop();
        }
    });
});
