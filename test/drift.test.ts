/**
 * Drift: what `pulumi refresh` notices, for every dynamic resource (ForgeAccount,
 * FeedbackHub, Vm, Gateway). Refresh calls each provider's `read` with the stored
 * state; this file does the same, through Pulumi's own dynamic-provider host over
 * gRPC, with all four serialized providers in one host process and one stack
 * config, as the engine runs them. For each resource: something changed outside
 * the tool shows up in read's properties, and something deleted outside the tool
 * comes back with an empty id (the engine then drops it from state, and the next
 * `pulumi up` creates it again). Where a refreshed change matters, `diff` against
 * the program's inputs says whether the next `up` repairs it.
 */
import { TEST_IDENTITY, accountInputs } from "./support/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEMPLATES } from "../providers/forge/feedback-hub";
import { DynamicHost, serializeProvider } from "./support/dynamic-host";
import { FakeCompute, TODAY_BINDING_PATH } from "./fakes/compute";
import { FakeForgejo } from "./fakes/forgejo";

const COMPUTE_TOKEN = "compute-token-drift-5d1e";
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1cFBTJ6PJcaV+mZ+0lVyOar+nVaRWQCHrpeTl2YJRU deployer";
const PATHS = Object.keys(TEMPLATES);
const HUB = "driftorg/feedback";

let forge: FakeForgejo;
let compute: FakeCompute;
let host: DynamicHost;
/** The one host process, speaking for each provider in turn (the engine sends each resource's own `__provider`). */
const as: Record<"account" | "hub" | "vm" | "gateway", DynamicHost> = {} as never;

function view(h: DynamicHost, serialized: string): DynamicHost {
    return Object.assign(Object.create(h), { provider: serialized });
}

/** `pulumi refresh` for one resource: read with the stored state. */
function refresh(h: DynamicHost, created: { id: string; outs: Record<string, unknown> }) {
    return h.read(created.id, created.outs);
}

async function createChecked(h: DynamicHost, inputs: Record<string, unknown>) {
    const checked = await h.check({}, inputs);
    expect(checked.failures).toEqual([]);
    const { __provider: _p, ...news } = checked.inputs;
    return { news, created: await h.create(news) };
}

beforeAll(async () => {
    const [account, hub, vm, gateway] = await Promise.all([
        serializeProvider("providers/shims.ts", "SHIMS.forgeAccount"),
        serializeProvider("providers/shims.ts", "SHIMS.feedbackHub"),
        serializeProvider("providers/shims.ts", "SHIMS.vm"),
        serializeProvider("providers/shims.ts", "SHIMS.gateway"),
    ]);
    forge = await FakeForgejo.start();
    // Today's dialect: its gateways record the VM they are for, which the gateway cases below rely on.
    compute = await FakeCompute.start({ dialect: "today", token: COMPUTE_TOKEN });
    host = await DynamicHost.start(account, {
        forgeUrl: forge.url,
        forgeToken: forge.adminToken,
        forgeRetryBaseMs: "1",
        computeUrl: compute.httpUrl,
        computeToken: COMPUTE_TOKEN,
        computeBinding: TODAY_BINDING_PATH,
        computePollSeconds: "0.01",
        computeBackoffSeconds: "0.01",
    });
    Object.assign(as, { account: view(host, account), hub: view(host, hub), vm: view(host, vm), gateway: view(host, gateway) });
});

afterAll(async () => {
    await host?.stop();
    await forge?.stop();
    await compute?.stop();
});

describe("FeedbackHub", () => {
    it("refresh sees templates deleted or edited and the repo made private; the next up puts back only the missing template", async () => {
        const { news, created } = await createChecked(as.hub, { repo: HUB, stack: TEST_IDENTITY.stack, stackId: TEST_IDENTITY.id });
        expect((await refresh(as.hub, created)).outs).toMatchObject({ templates: PATHS, customizedTemplates: [], private: false });

        const repo = forge.repo(HUB)!;
        repo.files.delete(PATHS[1]);
        repo.files.set(PATHS[0], { content: Buffer.from("rewritten by a maintainer"), sha: "edited" });
        repo.private = true;
        const read = await refresh(as.hub, created);
        expect(read.id).toBe(HUB);
        expect(read.outs).toMatchObject({ templates: [PATHS[0], PATHS[2]], customizedTemplates: [PATHS[0]], private: true });

        expect((await as.hub.diff(read.id, read.outs, news)).changes).toBe("some");
        const updated = await as.hub.update(read.id, read.outs, news);
        expect(updated.outs).toMatchObject({ templates: PATHS, customizedTemplates: [PATHS[0]], private: true });
        expect(forge.file(HUB, PATHS[0])).toBe("rewritten by a maintainer");
    });

    it("refresh of a repo deleted outside the tool answers an empty id", async () => {
        const { created } = await createChecked(as.hub, { repo: "driftgone/feedback", stack: TEST_IDENTITY.stack, stackId: TEST_IDENTITY.id });
        forge.repos.delete("driftgone/feedback");
        expect((await refresh(as.hub, created)).id).toBe("");
    });

    it("refresh of a repo deleted and re-created by someone else (another repo id) answers an empty id: ours is gone", async () => {
        const { created } = await createChecked(as.hub, { repo: "driftnew/feedback", stack: TEST_IDENTITY.stack, stackId: TEST_IDENTITY.id });
        forge.repos.delete("driftnew/feedback");
        forge.addRepo("driftnew/feedback");
        expect((await refresh(as.hub, created)).id).toBe("");
    });
});

describe("ForgeAccount", () => {
    const account = (username: string) => accountInputs(username, HUB);

    it("refresh sees a revoked token and lost feedback access, and the next up repairs them; the email and full name the user set are theirs: no change, not restored", async () => {
        const { news, created } = await createChecked(as.account, account("driftann"));
        const user = forge.user("driftann")!;
        user.email = "ann@elsewhere.test";
        user.full_name = "Ann, renamed";
        forge.tokens.splice(forge.tokens.findIndex((t) => t.userId === user.id), 1);
        forge.repo(HUB)!.collaborators.delete("driftann");

        const read = await refresh(as.account, created);
        expect(read.id).toBe("driftann");
        // State keeps what this stack set: the user's own email and name are not drift to repair.
        expect(read.outs).toMatchObject({ email: "driftann@demo.test", fullName: "Demo driftann", token: "", tokenId: 0, feedbackAccess: false });
        expect(read.outs.tokenNote).toMatch(/was revoked outside the tool; the next update mints a new one/);

        expect(await as.account.diff(read.id, read.outs, news)).toMatchObject({ changes: "some", replaces: [] });
        const updated = await as.account.update(read.id, read.outs, news);
        expect(updated.outs).toMatchObject({ feedbackAccess: true });
        expect(updated.outs.tokenId).not.toBe(0);
        expect(forge.user("driftann")).toMatchObject({ email: "ann@elsewhere.test", full_name: "Ann, renamed" });
    });

    it("refresh of an account deleted outside the tool answers an empty id", async () => {
        const { created } = await createChecked(as.account, account("driftbob"));
        forge.users.delete("driftbob");
        expect((await refresh(as.account, created)).id).toBe("");
    });

    it("refresh of an adopted account sees lost feedback access, and an empty id once it is deleted", async () => {
        forge.addUser({ login: "driftcat", email: "driftcat@demo.test", password: "cats-own-password" });
        const { created } = await createChecked(as.account, account("driftcat"));
        expect(created.outs.createdByTool).toBe(false);
        forge.repo(HUB)!.collaborators.delete("driftcat");
        expect((await refresh(as.account, created)).outs.feedbackAccess).toBe(false);
        forge.users.delete("driftcat");
        expect((await refresh(as.account, created)).id).toBe("");
    });
});

describe("Vm", () => {
    const vm = (name: string) => ({ name, username: name.slice(3), memoryMb: 2048, cpu: 1, diskGb: 15, sshKeys: [KEY] });

    it("refresh sees a VM stopped outside the tool; the next up does not restart it (state is not an input)", async () => {
        const { news, created } = await createChecked(as.vm, vm("vmsdave"));
        expect(created.outs.state).toBe("running");
        compute.stopVm("vmsdave");
        const read = await refresh(as.vm, created);
        expect(read.id).toBe(created.id);
        expect(read.outs).toMatchObject({ state: "stopped", vmId: created.outs.vmId });
        expect(await as.vm.diff(read.id, read.outs, news)).toEqual({ changes: "none", replaces: [], deleteBeforeReplace: false });
    });

    it("refresh of a VM deleted outside the tool answers an empty id", async () => {
        const { created } = await createChecked(as.vm, vm("vmseve"));
        compute.vanish("vmseve");
        expect((await refresh(as.vm, created)).id).toBe("");
    });

    it("refresh of a VM whose id now names another workload answers an empty id", async () => {
        const { created } = await createChecked(as.vm, vm("vmsfay"));
        compute.vms.get(String(created.outs.vmId))!.name = "vmssomeoneelse";
        expect((await refresh(as.vm, created)).id).toBe("");
    });
});

describe("Gateway", () => {
    const gw = (name: string) => ({ name, username: name.slice(2), backend: "http://[5a1::3]:9988", vmId: `vm-${name}` });

    it("refresh of a gateway deleted outside the tool answers an empty id", async () => {
        const { created } = await createChecked(as.gateway, gw("gwgina"));
        expect((await refresh(as.gateway, created)).id).toBe(created.id);
        compute.gateways.delete("gwgina");
        expect((await refresh(as.gateway, created)).id).toBe("");
    });

    it("refresh sees a gateway whose FQDN changed outside the tool", async () => {
        const { created } = await createChecked(as.gateway, gw("gwhal"));
        compute.gateways.get("gwhal")!.fqdn = "gwhal.other.grid.tf";
        const read = await refresh(as.gateway, created);
        expect(read.outs).toMatchObject({ fqdn: "gwhal.other.grid.tf", url: "https://gwhal.other.grid.tf" });
    });

    // Guards against read() keeping the recorded backend instead of the live one.
    it("regression: refresh sees our gateway (same VM) re-pointed to another backend outside the tool, and the next up puts it back in place", async () => {
        const { news, created } = await createChecked(as.gateway, gw("gwivy"));
        compute.gateways.get("gwivy")!.backend = "http://[5a1::99]:9988";
        const read = await refresh(as.gateway, created);
        expect(read.outs.backend).toBe("http://[5a1::99]:9988");
        expect(await as.gateway.diff(read.id, read.outs, news)).toMatchObject({ changes: "some", replaces: [] });
        await as.gateway.update(read.id, read.outs, news);
        expect(compute.gateways.get("gwivy")).toMatchObject({ backend: "http://[5a1::3]:9988", vm_id: "vm-gwivy" });
    });

    it("refresh of a gateway whose name now points at another VM answers an empty id: ours is gone", async () => {
        const { created } = await createChecked(as.gateway, gw("gwjon"));
        Object.assign(compute.gateways.get("gwjon")!, { backend: "http://[5a1::77]:9988", vm_id: "someone-elses" });
        expect((await refresh(as.gateway, created)).id).toBe("");
    });
});

describe("the host", () => {
    it("leaks neither the Forge admin token nor the compute token into its log", () => {
        expect(host.stderr()).not.toContain(forge.adminToken);
        expect(host.stderr()).not.toContain(COMPUTE_TOKEN);
    });
});
