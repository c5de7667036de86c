/**
 * The serialized VM and gateway providers inside Pulumi's own dynamic-provider
 * host, driven over gRPC as the engine drives them, against the fake
 * ComputeService. Serialization runs under ts-node CommonJS, as in `pulumi up`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamicHost, serializeProvider } from "./support/dynamic-host";
import { FakeCompute } from "./fakes/compute";

const TOKEN = "compute-token-7f3a9c";
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1cFBTJ6PJcaV+mZ+0lVyOar+nVaRWQCHrpeTl2YJRU deployer\n";
const VM = { name: "devalice", username: "alice", memoryMb: 8192, cpu: 4, diskGb: 50, sshKeys: [KEY] };

let vmText: string;
let gwText: string;
let fake: FakeCompute;
let host: DynamicHost;

function config(url: string, over: Record<string, string> = {}): Record<string, string> {
    return {
        computeUrl: url,
        computeToken: TOKEN,
        computeConcurrency: "2",
        computePollSeconds: "0.01",
        computeProgressSeconds: "0.05",
        computeBackoffSeconds: "0.01",
        ...over,
    };
}

/** The same host process, speaking for the other provider (the engine puts each resource's own `__provider` in). */
function asProvider(h: DynamicHost, serialized: string): DynamicHost {
    return h.forProvider(serialized);
}

async function until(what: string, ok: () => boolean): Promise<void> {
    while (!ok()) {
        await new Promise((r) => setTimeout(r, 10)); // the test's own wait; vitest's timeout bounds it
    }
    expect(ok(), what).toBe(true);
}

beforeAll(async () => {
    [vmText, gwText] = await Promise.all([serializeProvider("providers/shims.ts", "SHIMS.vm"), serializeProvider("providers/shims.ts", "SHIMS.gateway")]);
    fake = await FakeCompute.start({ token: TOKEN, provisionMs: 150, gatewayDeployMs: 40, callMs: { deploy_vm: 30 } });
    host = await DynamicHost.start(vmText, config(fake.unixUrl));
});
afterAll(async () => {
    await host?.stop();
    await fake?.stop();
});

describe("serialized providers", () => {
    it("are a reference to the versioned shim, and carry no token", () => {
        for (const text of [vmText, gwText]) {
            expect(text).not.toContain(TOKEN);
            expect(text.length).toBeLessThan(2048);
        }
        // The state holds a reference to the versioned shim, not the provider's code.
        expect(vmText.match(/require\("[^"]+"\)/g)).toEqual(['require("hero-os-grid-deployer-shims/v1/vm.js")']);
        expect(gwText.match(/require\("[^"]+"\)/g)).toEqual(['require("hero-os-grid-deployer-shims/v1/gateway.js")']);
    });
});

describe("VM lifecycle in the real host, over the Unix socket", () => {
    it("create → read → diff → update → delete, with the token absent from every returned property and from __provider", async () => {
        const { inputs, failures } = await host.check({}, VM);
        expect(failures).toEqual([]);
        const created = await host.create(inputs);
        const vm = fake.vm("devalice")!;
        expect(created.id).toBe(`${fake.unixUrl}#${vm.id}`);
        expect(created.outs).toMatchObject({ vmId: vm.id, computeEndpoint: fake.unixUrl, nodeId: 1, state: "running", myceliumIp: vm.mycelium_ip });
        expect(fake.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
        expect(JSON.stringify(created.outs)).not.toContain(TOKEN);
        expect(String(created.outs.__provider)).not.toContain(TOKEN);
        expect(host.stderr()).toMatch(new RegExp(`alice: waiting for VM ${vm.id} on node 1 to get its mycelium address: deploying \\(\\d+s\\)`));

        const read = await host.read(created.id, created.outs);
        expect(read.id).toBe(created.id);
        expect(JSON.stringify(read.outs)).not.toContain(TOKEN);

        const newKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBWDF9l2irR9lZK9SzoXUYhyRqTBBNb5mrK6r7AHCk+Z alice@laptop";
        expect(await host.diff(created.id, created.outs, { ...inputs, memoryMb: 16384 })).toEqual({ changes: "some", replaces: ["memoryMb"], deleteBeforeReplace: true });
        expect(await host.diff(created.id, created.outs, { ...inputs, sshKeys: [KEY.trim(), newKey] })).toEqual({ changes: "some", replaces: [], deleteBeforeReplace: false });
        const updated = await host.update(created.id, created.outs, { ...inputs, sshKeys: [KEY.trim(), newKey] });
        expect(fake.vm("devalice")!.ssh_keys).toContain(newKey);
        expect(JSON.stringify(updated.outs)).not.toContain(TOKEN);

        await host.delete(created.id, updated.outs);
        await host.delete(created.id, updated.outs);
        expect(fake.vms.size).toBe(0);
        expect((await host.read(created.id, updated.outs)).id).toBe("");
    });

    it("regression: after the provider host crashes mid-wait, a new host adopts the VM: no second deploy", async () => {
        const slow = await FakeCompute.start({ token: TOKEN, provisionMs: 700 });
        const first = await DynamicHost.start(vmText, config(slow.httpUrl));
        let firstStopped = false;
        try {
            const { inputs } = await first.check({}, VM);
            void first.create(inputs).catch(() => undefined); // never answered: the host dies first
            await until("deploy_vm reached the fake", () => slow.calls.deploy_vm === 1);
            await first.stop(); // the crash, while the provider polls get_vm
            firstStopped = true;
            expect(slow.vm("devalice")!.state).toBe("deploying");
            const second = await DynamicHost.start(vmText, config(slow.httpUrl));
            try {
                const created = await second.create(inputs);
                expect(created.outs.state).toBe("running");
                expect(slow.calls.deploy_vm).toBe(1);
                expect(slow.vms.size).toBe(1);
                expect(second.stderr()).toContain("adopting VM");
            } finally {
                await second.stop();
            }
        } finally {
            // DynamicHost.stop() is not idempotent after a kill (exitCode stays null when a signal ended it).
            if (!firstStopped) await first.stop();
            await slow.stop();
        }
    });

    it("the cap on changing calls holds across the VM and gateway providers, deserialized separately in one host", async () => {
        fake.maxChangingCallsInFlight = 0;
        const gwHost = asProvider(host, gwText);
        const vmInputs = await Promise.all(["bob", "carol", "dave"].map(async (u) => (await host.check({}, { ...VM, name: `dev${u}`, username: u })).inputs));
        const gwInputs = await Promise.all(["bob", "carol", "dave"].map(async (u) => (await gwHost.check({}, { name: `gw${u}`, username: u, backend: "http://[5a1::3]:9988" })).inputs));
        const results = await Promise.all([...vmInputs.map((i) => host.create(i)), ...gwInputs.map((i) => gwHost.create(i))]);
        expect(results.map((r) => String(r.outs.__provider) === gwText)).toEqual([false, false, false, true, true, true]);
        expect(fake.vms.size).toBe(3);
        expect(fake.gateways.size).toBe(3);
        expect(fake.maxChangingCallsInFlight).toBe(2);
    });

    it("a gateway name held by someone else reaches the engine as the clear gatewayName error", async () => {
        fake.foreignGateways.add("taken");
        const gwHost = asProvider(host, gwText);
        const { inputs } = await gwHost.check({}, { name: "taken", username: "erin", backend: "http://[5a1::4]:9988" });
        const err = await gwHost.create(inputs).catch((e: Error) => e);
        expect((err as Error).message).toContain('erin: the gateway name "taken" is already taken on the grid by someone else. Set gatewayName for erin');
        expect((err as Error).message).not.toContain(TOKEN);
    });

    it("regression: an RpcError keeps its message through the host and gRPC (the v0 serializer dropped what super() set)", async () => {
        const down = await DynamicHost.start(vmText, config("http://127.0.0.1:9/rpc", { computeRequestTimeoutSeconds: "1" }));
        try {
            const err = await down.read("http://127.0.0.1:9/rpc#005o", { ...VM, vmId: "005o", computeEndpoint: "http://127.0.0.1:9/rpc" }).catch((e: Error) => e);
            expect((err as Error).message).toMatch(/Hero Compute ComputeService\.get_vm for alice failed \(ECONNREFUSED\)/);
            expect((err as Error).message).toContain("check that Hero Compute is up and computeUrl (http://127.0.0.1:9/rpc) is right, then run pulumi up again");
        } finally {
            await down.stop();
        }
    });
});
