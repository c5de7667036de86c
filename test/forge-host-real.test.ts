/**
 * The serialized Forge providers as `pulumi up` runs them, in Pulumi's own
 * dynamic-provider host over gRPC (as test/forge-host.test.ts and
 * test/feedback-hub-host.test.ts do against the fake), here against the real
 * Forgejo: the feedback hub, then an account granted on it, its token used,
 * refreshed, updated and deleted. The admin token appears in nothing the
 * hosts return nor in their logs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountInputs, TEST_IDENTITY } from "./support/fixtures";
import { DynamicHost, serializeProvider } from "./support/dynamic-host";
import { realForgejoBinary, startRealForgejo, type RealForgejo } from "./support/real-forgejo";
import { TEMPLATES } from "../providers/forge/feedback-hub";

const binary = realForgejoBinary("test/forge-host-real.test.ts");
const FEEDBACK = "hostorg/feedback";
let forge: RealForgejo;
let accountHost: DynamicHost;
let hubHost: DynamicHost;
const returned: unknown[] = [];

function keep<T>(v: T): T {
    returned.push(v);
    return v;
}

describe.skipIf(!binary)("the serialized Forge providers in Pulumi's host, on a real Forgejo", () => {
    beforeAll(async () => {
        forge = await startRealForgejo(binary!);
        const [account, hub] = await Promise.all([serializeProvider("providers/shims.ts", "SHIMS.forgeAccount"), serializeProvider("providers/shims.ts", "SHIMS.feedbackHub")]);
        const config = { forgeUrl: forge.url, forgeToken: forge.adminToken, forgeRetryBaseMs: "1", purgeAccountsOnTeardown: "true", purgeFeedbackHubOnTeardown: "true" };
        [accountHost, hubHost] = await Promise.all([DynamicHost.start(account, config), DynamicHost.start(hub, config)]);
    }, 180_000);
    afterAll(async () => {
        await Promise.all([accountHost?.stop(), hubHost?.stop()]);
        await forge?.stop();
    });

    it("creates the feedback hub, then an account granted on it whose token works; refresh, update and purge follow", async () => {
        const hubChecked = keep(await hubHost.check({}, { repo: FEEDBACK, stack: TEST_IDENTITY.stack, stackId: TEST_IDENTITY.id }));
        expect(hubChecked.failures).toEqual([]);
        const { __provider: _h, ...hubInputs } = hubChecked.inputs;
        const hub = keep(await hubHost.create(hubInputs));
        expect(hub.outs).toMatchObject({ fullName: FEEDBACK, orgCreatedByTool: true, repoCreatedByTool: true, templates: Object.keys(TEMPLATES) });

        const checked = keep(await accountHost.check({}, accountInputs("hostuser", FEEDBACK)));
        expect(checked.failures).toEqual([]);
        const { __provider: _a, ...news } = checked.inputs;
        const created = keep(await accountHost.create(news));
        expect(created.outs).toMatchObject({ login: "hostuser", createdByTool: true, feedbackAccess: true });
        const me = await forge.api("GET", "/user", { auth: { token: created.outs.token as string } });
        expect(me.body.login).toBe("hostuser");
        expect((await forge.api("GET", `/repos/${FEEDBACK}/collaborators/hostuser/permission`)).body.permission).toBe("read");

        const read = keep(await accountHost.read("hostuser", created.outs));
        expect(read.outs).toMatchObject({ userId: created.outs.userId, tokenId: created.outs.tokenId, feedbackAccess: true });
        const moved = { ...news, email: "hostuser@new.test" };
        const updated = keep(await accountHost.update("hostuser", read.outs, moved));
        expect(updated.outs).toMatchObject({ email: "hostuser@new.test", tokenId: created.outs.tokenId });
        expect((await forge.api("GET", "/users/hostuser")).body.email).toBe("hostuser@new.test");

        await accountHost.delete("hostuser", updated.outs);
        expect((await forge.api("GET", "/users/hostuser")).status).toBe(404);
        await hubHost.delete(FEEDBACK, hub.outs);
        expect((await forge.api("GET", `/repos/${FEEDBACK}`)).status).toBe(404);
        expect((await forge.api("GET", "/orgs/hostorg")).status).toBe(404);
    });

    it("a refusal of the real Forgejo keeps its actionable message through gRPC", async () => {
        const err = (await accountHost.create(accountInputs("admin", FEEDBACK)).catch((e: Error) => e)) as Error;
        expect(err.message).toContain('username "admin" is not allowed by Forge');
        returned.push(err.message);
    });

    it("the admin token is absent from every property returned and from the hosts' logs", () => {
        expect(JSON.stringify(returned)).not.toContain(forge.adminToken);
        expect(accountHost.stderr()).not.toContain(forge.adminToken);
        expect(hubHost.stderr()).not.toContain(forge.adminToken);
    });
});
