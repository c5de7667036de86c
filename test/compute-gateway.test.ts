/**
 * HeroGateway's provider against the fake ComputeService, in process.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkGateway, diffGateway, GatewayInputs, GatewayOutputs, gatewayProvider, isLoopback } from "../providers/compute/gateway";
import { configRequest, FakeCompute, TODAY_BINDING_PATH } from "./fakes/compute";

const BACKEND = "http://[5a1:2b::7]:9988";
let fake: FakeCompute;

function inputs(over: Partial<GatewayInputs> = {}): GatewayInputs {
    return { name: "devalice", username: "alice", backend: BACKEND, vmId: "00a1", ...over };
}

async function configure(over: Record<string, string> = {}): Promise<void> {
    const fast = { computeBackoffSeconds: "0.001", computePollSeconds: "0.01", computeProgressSeconds: "0.05", gatewayReleaseWaitSeconds: "0.3" };
    await gatewayProvider.configure!(configRequest({ computeUrl: fake.httpUrl, computeBinding: TODAY_BINDING_PATH, ...fast, ...over }));
}

async function create(over: Partial<GatewayInputs> = {}): Promise<{ id: string; outs: GatewayOutputs }> {
    const checked = await gatewayProvider.check!({}, inputs(over));
    expect(checked.failures).toEqual([]);
    return (await gatewayProvider.create(checked.inputs)) as { id: string; outs: GatewayOutputs };
}

beforeAll(async () => {
    fake = await FakeCompute.start({ dialect: "today", gatewayDomain: "gent02.grid.tf" });
    await configure();
});
afterEach(() => {
    fake.gateways.clear();
    fake.foreignGateways.clear();
    fake.faults.length = 0;
    fake.requests.length = 0;
    for (const k of Object.keys(fake.calls)) delete fake.calls[k];
});
afterAll(async () => {
    await fake.stop();
});

describe("create", () => {
    it("deploys the gateway and outputs its FQDN and https URL", async () => {
        const { id, outs } = await create();
        expect(outs).toMatchObject({ fqdn: "devalice.gent02.grid.tf", url: "https://devalice.gent02.grid.tf", computeEndpoint: fake.httpUrl });
        expect(id).toBe(`${fake.httpUrl}#devalice`);
        expect(fake.requests.find((r) => r.method === "deploy_webgateway")!.params).toEqual({ name: "devalice", backend: BACKEND, vm_id: "00a1" });
    });

    it("a name taken by someone else fails with a clear error telling the admin to set gatewayName", async () => {
        fake.foreignGateways.add("devalice");
        const err = await create().catch((e: Error) => e);
        expect((err as Error).message).toMatch(/^alice: the gateway name "devalice" is already taken on the grid by someone else\. Set gatewayName for alice in the users file/);
        expect((err as Error).message).toContain("(Hero Compute said: name devalice is reserved by twin 4711)");
        expect(fake.gateways.size).toBe(0);
        expect(fake.calls.deploy_webgateway).toBe(1);
    });

    it("regression: our own leftover from a failed attempt is adopted, not redeployed under a new name", async () => {
        await fake.invoke("deploy_webgateway", { name: "devalice", backend: BACKEND });
        const { outs } = await create();
        expect(outs.fqdn).toBe("devalice.gent02.grid.tf");
        expect(fake.calls.deploy_webgateway).toBe(1); // only the leftover's
        expect(fake.gateways.size).toBe(1);
    });

    it("our leftover (same VM) pointing at an old backend is redeployed for the new backend", async () => {
        await fake.invoke("deploy_webgateway", { name: "devalice", backend: "http://[5a1:dead::1]:9988", vm_id: "00a1" });
        await create();
        expect(fake.gateways.get("devalice")).toMatchObject({ backend: BACKEND, vm_id: "00a1" });
        expect(fake.calls.delete_webgateway).toBe(1);
    });

    it("regression: a gateway of our name pointing at another VM is waited for, then refused and left alone", async () => {
        await fake.invoke("deploy_webgateway", { name: "devalice", backend: "http://[5a1:beef::1]:9988", vm_id: "0bob" });
        const err = await create().then(() => undefined, (e: Error) => e);
        expect(err?.message).toMatch(
            /^alice: the gateway name "devalice" is held by a gateway pointing at http:\/\/\[5a1:beef::1\]:9988 \(VM 0bob\), not at this user's VM, and it was not released within \d+s \(gatewayReleaseWaitSeconds\)\. It was left alone\./,
        );
        expect(fake.gateways.get("devalice")).toMatchObject({ backend: "http://[5a1:beef::1]:9988", vm_id: "0bob" });
        expect(fake.calls.delete_webgateway).toBeUndefined();
        expect(fake.calls.get_webgateway).toBeGreaterThan(1); // it looked again while waiting
    });

    it("a name released while waiting is then deployed for us", async () => {
        await fake.invoke("deploy_webgateway", { name: "devalice", backend: "http://[5a1:beef::1]:9988", vm_id: "0bob" });
        setTimeout(() => fake.gateways.delete("devalice"), 100);
        await create();
        expect(fake.gateways.get("devalice")).toMatchObject({ backend: BACKEND, vm_id: "00a1" });
    });

    it("regression: a lost deploy_webgateway answer is resolved by looking the name up, not by deploying blindly", async () => {
        fake.fault("drop", { method: "deploy_webgateway" });
        const { outs } = await create();
        expect(outs.url).toBe("https://devalice.gent02.grid.tf");
        expect(fake.calls.deploy_webgateway).toBe(1);
        expect(fake.calls.get_webgateway).toBe(2);
    });
});

describe("check and diff (preview): no network", () => {
    it("refuses loopback and malformed backends and bad names; accepts an unknown backend during preview", () => {
        expect(checkGateway({ ...inputs(), backend: "http://127.0.0.1:9988" }).failures[0].reason).toMatch(/loopback/);
        expect(checkGateway({ ...inputs(), backend: "http://[::1]:9988" }).failures[0].property).toBe("backend");
        expect(checkGateway({ ...inputs(), backend: "http://localhost:9988" }).failures).toHaveLength(1);
        expect(checkGateway({ ...inputs(), backend: "ftp://x" }).failures[0].reason).toMatch(/http\(s\) URL/);
        expect(checkGateway({ ...inputs(), name: "Dev_Alice" }).failures[0].property).toBe("name");
        expect(checkGateway({ ...inputs(), backend: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" }).failures).toEqual([]);
        expect(checkGateway({ ...inputs(), backend: "http://[::1]:9988" }, true).failures).toEqual([]);
        expect(isLoopback("[::ffff:127.0.0.1]")).toBe(true);
        expect(isLoopback("5a1:2b::7")).toBe(false);
    });

    it("config computeAllowLoopbackBackend (rehearsals on loopback only) lets check accept a loopback backend", async () => {
        await configure({ computeAllowLoopbackBackend: "true" });
        try {
            expect((await gatewayProvider.check!({}, inputs({ backend: "http://[::1]:8080" }))).failures).toEqual([]);
        } finally {
            await configure();
        }
    });

    it("nothing replaces: a new backend, VM, name or username is an update in place", () => {
        const olds: GatewayOutputs = { ...inputs(), computeEndpoint: "x", fqdn: "devalice.g", url: "https://devalice.g" };
        const update = { changes: true, replaces: [], deleteBeforeReplace: false };
        expect(diffGateway(olds, inputs())).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
        expect(diffGateway(olds, inputs({ backend: "http://[5a1::9]:9988" }))).toEqual(update);
        expect(diffGateway(olds, inputs({ vmId: "00b2" }))).toEqual(update);
        expect(diffGateway(olds, inputs({ name: "alicedemo" }))).toEqual(update);
        expect(diffGateway(olds, inputs({ username: "alice2" }))).toEqual(update);
    });
});

describe("refresh and delete", () => {
    it("update (username only) keeps the outputs", async () => {
        const { id, outs } = await create();
        const { outs: after } = (await gatewayProvider.update!(id, outs, inputs({ username: "alice2" }))) as { outs: GatewayOutputs };
        expect(after).toMatchObject({ username: "alice2", fqdn: outs.fqdn, url: outs.url });
    });

    it("delete twice succeeds; refresh then reports it gone", async () => {
        const { id, outs } = await create();
        await gatewayProvider.delete!(id, outs);
        await gatewayProvider.delete!(id, outs);
        expect(fake.gateways.size).toBe(0);
        expect(fake.calls.delete_webgateway).toBe(1); // the second found nothing: done
        expect(await gatewayProvider.read!(id, outs)).toEqual({ id: "", props: {} });
    });

    it("regression: deleting a gateway that now points at another VM deletes nothing and warns", async () => {
        const { id, outs } = await create();
        Object.assign(fake.gateways.get("devalice")!, { backend: "http://[5a1:beef::1]:9988", vm_id: "0bob" });
        const lines: string[] = [];
        const write = process.stderr.write;
        process.stderr.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
        try {
            await gatewayProvider.delete!(id, outs);
        } finally {
            process.stderr.write = write;
        }
        expect(fake.gateways.get("devalice")).toMatchObject({ vm_id: "0bob" });
        expect(fake.calls.delete_webgateway).toBeUndefined();
        expect(lines.join("")).toMatch(/alice: warning: keeping gateway devalice: it now points at http:\/\/\[5a1:beef::1\]:9988 \(VM 0bob\), not at this user's VM 00a1/);
        expect(await gatewayProvider.read!(id, outs)).toEqual({ id: "", props: {} }); // and refresh no longer calls it ours
    });
});

describe("update in place", () => {
    const update = async (olds: GatewayOutputs, news: GatewayInputs) => (await gatewayProvider.update!("ignored", olds, news)).outs as GatewayOutputs;

    it("a new backend on the same name redeploys it: the old one goes first, then the name points at the new backend", async () => {
        const { outs } = await create();
        const after = await update(outs, inputs({ backend: "http://[5a1:2b::8]:9988", vmId: "00a2" }));
        expect(fake.gateways.get("devalice")).toMatchObject({ backend: "http://[5a1:2b::8]:9988", vm_id: "00a2" });
        expect(after).toMatchObject({ name: "devalice", backend: "http://[5a1:2b::8]:9988", url: "https://devalice.gent02.grid.tf" });
    });

    it("a new name deploys the new gateway first, then deletes the old one", async () => {
        const { outs } = await create();
        const after = await update(outs, inputs({ name: "alicenew" }));
        expect([...fake.gateways.keys()]).toEqual(["alicenew"]);
        expect(after.url).toBe("https://alicenew.gent02.grid.tf");
        const order = fake.requests.map((r) => r.method).filter((m) => m !== "get_webgateway");
        expect(order.slice(-2)).toEqual(["deploy_webgateway", "delete_webgateway"]);
    });

    it("regression: two users swapping names in one update both end live, each pointing at their own VM", async () => {
        const alice = (await create({ name: "alicedemo", vmId: "00a1", backend: BACKEND })).outs;
        const bob = (await create({ name: "bobold", username: "bob", vmId: "00b1", backend: "http://[5a1:2b::9]:9988" })).outs;
        // Bob's update starts first and finds alicedemo still Alice's: it waits; Alice's update frees it.
        const bobs = update(bob, { name: "alicedemo", username: "bob", vmId: "00b1", backend: "http://[5a1:2b::9]:9988" });
        await new Promise((r) => setTimeout(r, 50));
        const alices = update(alice, { name: "alicenew", username: "alice", vmId: "00a1", backend: BACKEND });
        const [b, a] = await Promise.all([bobs, alices]);
        expect(fake.gateways.get("alicenew")).toMatchObject({ backend: BACKEND, vm_id: "00a1" });
        expect(fake.gateways.get("alicedemo")).toMatchObject({ backend: "http://[5a1:2b::9]:9988", vm_id: "00b1" });
        expect(fake.gateways.has("bobold")).toBe(false);
        expect([a.url, b.url]).toEqual(["https://alicenew.gent02.grid.tf", "https://alicedemo.gent02.grid.tf"]);
    });
});
