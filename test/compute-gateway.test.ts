/**
 * HeroGateway's provider against the fake ComputeService, in process.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkGateway, diffGateway, GatewayInputs, GatewayOutputs, gatewayProvider, isLoopback } from "../providers/compute/gateway";
import { configRequest, FakeCompute } from "./fakes/compute";

const BACKEND = "http://[5a1:2b::7]:9988";
let fake: FakeCompute;

function inputs(over: Partial<GatewayInputs> = {}): GatewayInputs {
    return { name: "devalice", username: "alice", backend: BACKEND, vmId: "00a1", ...over };
}

async function configure(over: Record<string, string> = {}): Promise<void> {
    await gatewayProvider.configure!(configRequest({ computeUrl: fake.httpUrl, computeBackoffSeconds: "0.001", ...over }));
}

async function create(over: Partial<GatewayInputs> = {}): Promise<{ id: string; outs: GatewayOutputs }> {
    const checked = await gatewayProvider.check!({}, inputs(over));
    expect(checked.failures).toEqual([]);
    return (await gatewayProvider.create(checked.inputs)) as { id: string; outs: GatewayOutputs };
}

beforeAll(async () => {
    fake = await FakeCompute.start({ gatewayDomain: "gent02.grid.tf" });
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

    it("our leftover pointing at an old backend is replaced by one pointing at the new backend", async () => {
        await fake.invoke("deploy_webgateway", { name: "devalice", backend: "http://[5a1:dead::1]:9988" });
        await create();
        expect(fake.gateways.get("devalice")!.backend).toBe(BACKEND);
        expect(fake.calls.delete_webgateway).toBe(1);
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

    it("a backend change replaces, deleting first (same name); a name change replaces without; username alone updates", () => {
        const olds: GatewayOutputs = { ...inputs(), computeEndpoint: "x", fqdn: "devalice.g", url: "https://devalice.g" };
        expect(diffGateway(olds, inputs())).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
        expect(diffGateway(olds, inputs({ backend: "http://[5a1::9]:9988" }))).toEqual({ changes: true, replaces: ["backend"], deleteBeforeReplace: true });
        expect(diffGateway(olds, inputs({ name: "alicedemo" }))).toEqual({ changes: true, replaces: ["name"], deleteBeforeReplace: false });
        expect(diffGateway(olds, inputs({ username: "alice2" }))).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
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
        expect(fake.calls.delete_webgateway).toBe(2); // the second answered NotFound, which counts as done
        expect(await gatewayProvider.read!(id, outs)).toEqual({ id: "", props: {} });
    });
});
