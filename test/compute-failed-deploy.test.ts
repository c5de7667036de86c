/**
 * A deploy the service reports as failed, in each dialect's state words (the
 * tracker's, today's and the prefixed one's "failed"; the fourth dialect's
 * "error", with its `reason`): the wait stops at once (not at
 * vmReadyTimeoutMinutes), the VM is deleted, the error says what the service
 * said, and the next attempt replaces a failed leftover instead of adopting it.
 */
import * as path from "path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_FLIST, type VmInputs, vmProvider } from "../providers/compute/vm";
import { configRequest, type Dialect, FakeCompute, TODAY_BINDING_PATH } from "./fakes/compute";

const NEXT_BINDING_PATH = path.resolve(__dirname, "fixtures", "compute", "next.binding.json");
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1cFBTJ6PJcaV+mZ+0lVyOar+nVaRWQCHrpeTl2YJRU deployer";
const inputs = (over: Partial<VmInputs> = {}): VmInputs => ({ name: "devalice", username: "alice", memoryMb: 8192, cpu: 4, diskGb: 50, sshKeys: [KEY], flist: DEFAULT_FLIST, ...over });

const TODAY_DEPLOY = { name: "devalice", flist: DEFAULT_FLIST, cpu: 4, memory: 8192, rootfs_size: 51200, mycelium: true, public_ip: false, ssh_keys: [KEY] };
/** Each dialect, its binding, its word for a failed deploy, what its results say about it, and how another client deploys there. */
const CASES: { dialect: Dialect; binding?: string; word: string; said: string; plant: [string, Record<string, unknown>][] }[] = [
    {
        dialect: "tracker", word: "failed", said: "",
        plant: [["inject_ssh_keys", { name: "devalice", ssh_keys: [KEY] }], ["deploy_vm", { name: "devalice", flist: "ubuntu-24.04-latest", cpu: 4, memory: 8, disk: 50, rootfs: 16, publicip: false }]],
    },
    { dialect: "today", binding: TODAY_BINDING_PATH, word: "failed", said: "", plant: [["deploy_vm", TODAY_DEPLOY]] },
    { dialect: "prefixed", binding: TODAY_BINDING_PATH, word: "failed", said: "", plant: [["deploy_vm", TODAY_DEPLOY]] },
    {
        dialect: "next", binding: NEXT_BINDING_PATH, word: "error", said: " (Hero Compute said: node 9 has no capacity left)",
        plant: [["deploy_vm", { name: "devalice", image: DEFAULT_FLIST, vcpu: 4, memory_mb: 8192, disk_mb: 51200, rootfs_mb: 8192, authorized_keys: [KEY] }]],
    },
];

let fake: FakeCompute | undefined;
afterEach(async () => {
    await fake?.stop();
    fake = undefined;
    vi.restoreAllMocks();
});

async function start(c: (typeof CASES)[number]): Promise<void> {
    fake = await FakeCompute.start({ dialect: c.dialect, token: "tok-failed", defaultNode: 7 });
    const cfg = { computeUrl: fake.httpUrl, computeToken: "tok-failed", computePollSeconds: "0.005", computeProgressSeconds: "0.02", computeBackoffSeconds: "0.001", vmReadyTimeoutMinutes: "5" };
    await vmProvider.configure!(configRequest(c.binding ? { ...cfg, computeBinding: c.binding } : cfg));
    fake.failingNodes.set(9, "node 9 has no capacity left");
}

describe.each(CASES)("a failed deploy in the $dialect dialect (state $word)", (c) => {
    it("stops the wait at once, deletes the VM and says what the service said", async () => {
        await start(c);
        vi.spyOn(process.stderr, "write").mockImplementation(() => true);
        const started = Date.now();
        const err = await vmProvider.create((await vmProvider.check!({}, inputs({ node: 9 }))).inputs).catch((e: Error) => e);
        expect(Date.now() - started).toBeLessThan(10_000); // vmReadyTimeoutMinutes is 5
        const id = fake!.requests.find((r) => r.method === "delete_vm")!.params;
        expect(Object.values(id).map(String)).toHaveLength(1);
        expect((err as Error).message).toBe(
            `alice: VM ${String(Object.values(id)[0])} (devalice) did not become ready: ` +
                `Hero Compute reports the deployment failed on node 9, state "${c.word}"${c.said}; it was deleted. ` +
                "Run pulumi up again, or pin another node (vm.node in the users file) or raise vmReadyTimeoutMinutes if it keeps happening.",
        );
        expect(fake!.vms.size).toBe(0);
        expect(fake!.calls.delete_vm).toBe(1);
        expect(fake!.deploysInFlight).toBe(0);
    });

    it("a failed leftover of ours is deleted on the next attempt and a new VM deployed, not adopted", async () => {
        await start(c);
        vi.spyOn(process.stderr, "write").mockImplementation(() => true);
        // An earlier attempt of ours deployed (with this user's deployer key), then crashed; the VM failed afterwards.
        for (const [method, params] of c.plant) await fake!.invoke(method, params);
        const leftover = fake!.vm("devalice")!;
        leftover.state = "failed";
        expect(leftover.ssh_keys).toEqual([KEY]);
        const { outs } = (await vmProvider.create((await vmProvider.check!({}, inputs())).inputs)) as { outs: { vmId: string; state: string } };
        expect(outs.vmId).not.toBe(leftover.id);
        expect(outs.state).toBe("running");
        expect(fake!.vms.size).toBe(1);
    });
});
