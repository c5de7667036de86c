/**
 * The Forge login of a demo environment (providers/forge/oauth-app.ts), proven
 * on a real Forgejo: the application the provider makes lets the user log in
 * with their password, run the authorization-code flow with its client id and
 * redirect URI, exchange the code at the Forge, and read /api/v1/user as
 * themselves. Claiming a leftover and every update rotate the secret (the old
 * one stops working); delete removes it; a lost answer makes no second one.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OTHER_IDENTITY, providerConfig, TEST_IDENTITY } from "./support/fixtures";
import { realForgejoBinary, startRealForgejo, type RealForgejo } from "./support/real-forgejo";
import { FaultProxy } from "./support/fault-proxy";
import { Browser, csrf, forgeLoginFlow, loginOfToken } from "./support/forge-login-flow";
import { ownerMarker } from "../providers/ownership";
import { PROXY_OAUTH_CALLBACK_PATH } from "../components/hero-cli";
import { ForgeOAuthAppInputs, ForgeOAuthAppOutputs, checkOAuthApp, diffOAuthApp, oauthAppName, oauthRedirectUri, forgeOAuthAppProvider as provider } from "../providers/forge/oauth-app";

const binary = realForgejoBinary("test/forge-oauth-real.test.ts");
const loginFlow = (login: string, password: string, app: { clientId: string; clientSecret: string; redirectUri: string }) => forgeLoginFlow(forge.url, login, password, app);
const loginOf = (accessToken: string) => loginOfToken(forge.url, accessToken);
const PASSWORD = "demo-user-Password-42";
let forge: RealForgejo;

function inputs(username: string, over: Partial<ForgeOAuthAppInputs> = {}): ForgeOAuthAppInputs {
    return { username, gatewayUrl: `https://dev${username}.gent02.grid.tf`, stack: TEST_IDENTITY.stack, stackId: TEST_IDENTITY.id, ...over };
}

describe("offline: names, redirect URI, check and diff", () => {
    it("names the application after the user with this stack's marker, and redirects to the gateway plus hero_proxy's (guessed) callback path", () => {
        expect(oauthAppName("alice", TEST_IDENTITY)).toBe(`Hero OS demo login for alice ${ownerMarker(TEST_IDENTITY)}`);
        expect(oauthRedirectUri("https://devalice.gent02.grid.tf/")).toBe(`https://devalice.gent02.grid.tf${PROXY_OAUTH_CALLBACK_PATH}`);
    });

    it("check refuses what cannot be a login's redirect, and diff replaces (delete first) on a new user or stack, patches on a new gateway", () => {
        expect(checkOAuthApp(inputs("alice")).failures).toEqual([]);
        expect(checkOAuthApp(inputs("alice", { gatewayUrl: "http://devalice.gent02.grid.tf" })).failures!.map((f) => f.property)).toEqual(["gatewayUrl"]);
        expect(checkOAuthApp({ username: "-x", gatewayUrl: "https://a.b/?q=1" }).failures!.map((f) => f.property)).toEqual(["username", "gatewayUrl", "stack", "stackId"]);
        const olds = { ...inputs("alice"), appId: 1 } as ForgeOAuthAppOutputs;
        expect(diffOAuthApp(olds, inputs("alice"))).toMatchObject({ changes: false });
        expect(diffOAuthApp(olds, inputs("bob"))).toMatchObject({ changes: true, replaces: ["username"], deleteBeforeReplace: true });
        expect(diffOAuthApp(olds, inputs("alice", { gatewayUrl: "https://other.gent02.grid.tf" }))).toMatchObject({ changes: true, replaces: [], changed: ["gatewayUrl"] });
    });
});

describe.skipIf(!binary)("the Forge login on a real Forgejo", () => {
    let proxy: FaultProxy;

    beforeAll(async () => {
        forge = await startRealForgejo(binary!);
        proxy = await FaultProxy.start(forge.url);
        for (const login of ["alice", "bob", "carol", "dave", "erin"]) {
            const res = await forge.api("POST", "/admin/users", { body: { username: login, email: `${login}@demo.test`, password: PASSWORD, must_change_password: false } });
            expect(res.status).toBe(201);
        }
    }, 120_000);
    afterAll(async () => {
        await proxy?.stop();
        await forge?.stop();
    });
    beforeEach(async () => {
        proxy.clearFaults();
        await configure(forge.url);
    });

    async function configure(url: string): Promise<void> {
        await provider.configure!({ config: providerConfig({ forgeUrl: url, forgeToken: forge.adminToken, forgeRetryBaseMs: "1", forgeTimeoutMs: "5000" }) });
    }

    async function create(i: ForgeOAuthAppInputs): Promise<ForgeOAuthAppOutputs> {
        const res = await provider.create!(i);
        expect(res.id).toBe(String(res.outs!.appId));
        return res.outs as ForgeOAuthAppOutputs;
    }

    it("the application it creates lets the user log in with their password, get a code for the gateway's callback, exchange it, and read /api/v1/user as themselves", async () => {
        const app = await create(inputs("alice"));
        expect(app).toMatchObject({ name: oauthAppName("alice", TEST_IDENTITY), redirectUri: `https://devalice.gent02.grid.tf${PROXY_OAUTH_CALLBACK_PATH}`, claimed: false });
        expect(app.clientSecret).toMatch(/^gto_/);
        const flow = await loginFlow("alice", PASSWORD, app);
        expect(flow.redirect?.origin + flow.redirect!.pathname).toBe(app.redirectUri);
        expect(flow.state).toMatch(/^state-/);
        expect(flow.tokenStatus).toBe(200);
        expect(await loginOf(flow.token.access_token!)).toBe("alice");
        // The admin's application list shows it, as the audit will read it.
        const listed = (await forge.api("GET", "/user/applications/oauth2")).body as Array<{ id: number; name: string }>;
        expect(listed.map((a) => a.id)).toContain(app.appId);
    });

    it("the Forge refuses a code for any redirect URI but the application's, and a wrong password logs nobody in", async () => {
        const app = await create(inputs("bob"));
        const q = new URLSearchParams({ client_id: app.clientId, redirect_uri: "https://evil.example.test/oauth/callback", response_type: "code", state: "s" });
        const b = new Browser(forge.url);
        const page = await b.request("/user/login");
        await b.request("/user/login", { method: "POST", form: { _csrf: csrf(page.text), user_name: "bob", password: PASSWORD } });
        const auth = await b.request(`/login/oauth/authorize?${q}`);
        expect(auth.location).not.toContain("evil.example.test");
        await expect(loginFlow("bob", "not-bobs-password", app)).rejects.toThrow(/login as bob answered 200/);
    });

    it("a create repeated after a lost state claims its own leftover by name and marker: one application, a new secret, the old one refused", async () => {
        const first = await create(inputs("carol"));
        const again = await create(inputs("carol"));
        expect(again).toMatchObject({ appId: first.appId, clientId: first.clientId, claimed: true });
        expect(again.clientSecret).not.toBe(first.clientSecret);
        const apps = ((await forge.api("GET", "/user/applications/oauth2")).body as Array<{ name: string }>).filter((a) => a.name.includes(" carol "));
        expect(apps).toHaveLength(1);
        expect((await loginFlow("carol", PASSWORD, first)).token.error).toBe("unauthorized_client");
        expect((await loginFlow("carol", PASSWORD, again)).tokenStatus).toBe(200);
    });

    it("another stack's application for the same user is never claimed nor touched", async () => {
        await configure(forge.url);
        const theirs = await create(inputs("dave", { stack: OTHER_IDENTITY.stack, stackId: OTHER_IDENTITY.id }));
        const ours = await create(inputs("dave"));
        expect(ours.appId).not.toBe(theirs.appId);
        expect((await loginFlow("dave", PASSWORD, theirs)).tokenStatus).toBe(200);
    });

    it("an update to a new gateway URL moves the redirect URI and rotates the secret; refresh keeps the secret; delete removes it, and again is done", async () => {
        const olds = await create(inputs("erin"));
        const news = inputs("erin", { gatewayUrl: "https://erin2.gent02.grid.tf" });
        const { outs } = (await provider.update!(String(olds.appId), olds, news)) as { outs: ForgeOAuthAppOutputs };
        expect(outs).toMatchObject({ appId: olds.appId, redirectUri: `https://erin2.gent02.grid.tf${PROXY_OAUTH_CALLBACK_PATH}` });
        expect(outs.clientSecret).not.toBe(olds.clientSecret);
        expect((await loginFlow("erin", PASSWORD, outs)).tokenStatus).toBe(200);
        const read = (await provider.read!(String(outs.appId), outs)).props as ForgeOAuthAppOutputs;
        expect(read).toEqual(outs);
        await provider.delete!(String(outs.appId), outs);
        expect((await forge.api("GET", `/user/applications/oauth2/${outs.appId}`)).status).toBe(404);
        expect((await provider.read!(String(outs.appId), outs)).id).toBe("");
        await provider.delete!(String(outs.appId), outs);
    });

    it("a lost create answer (reset after the Forge made it) is settled by looking again: one application, whose secret works", async () => {
        await configure(proxy.url);
        proxy.inject("POST", "/user/applications/oauth2", { kind: "reset", when: "after" });
        const app = await create(inputs("alice", { gatewayUrl: "https://lost.gent02.grid.tf", stackId: "0123abcd", stack: "organization/hero-os-grid-deployer/lost" }));
        expect(app.claimed).toBe(true);
        expect(proxy.count("POST", "/user/applications/oauth2")).toBe(1);
        const named = ((await forge.api("GET", "/user/applications/oauth2")).body as Array<{ name: string }>).filter((a) => a.name === app.name);
        expect(named).toHaveLength(1);
        expect((await loginFlow("alice", PASSWORD, app)).tokenStatus).toBe(200);
    });
});
