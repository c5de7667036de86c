/**
 * The audit's Forge part on a real Forgejo: the accounts the ForgeAccount
 * provider made, adopted or lost, listed as `npm run audit` lists them
 * (`forgeUsers`, GET /admin/users, all pages) and judged by the audit: an
 * account of ours without a state record is an orphan, a record whose account
 * is gone is listed as gone, another stack's account is left to it, an
 * account with the stack-less marker of older releases is a look-alike. The
 * front doors' Forge logins (OAuth2 applications) likewise: an application of
 * ours without a record is an orphan that `--delete-orphans` removes after
 * checking its proof again; a record whose application is gone is listed as gone;
 * another stack's application is not listed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountInputs, OTHER_IDENTITY, providerConfig, TEST_IDENTITY } from "./support/fixtures";
import { realForgejoBinary, startRealForgejo, type RealForgejo } from "./support/real-forgejo";
import { LEGACY_MARKER, ownerMarker } from "../providers/ownership";
import { ForgeAccountOutputs, forgeAccountProvider as account } from "../providers/forge/account";
import { ForgeOAuthAppOutputs, forgeOAuthAppProvider as login, listApps } from "../providers/forge/oauth-app";
import { forgeUsers } from "../scripts/audit";
import { auditLogins } from "../scripts/lib/audit-logins";
import { audit, type StateRecords } from "../scripts/lib/audit-report";

const binary = realForgejoBinary("test/audit-forge-real.test.ts");
const FEEDBACK = "auditorg/feedback";
let forge: RealForgejo;

describe.skipIf(!binary)("the audit's Forge part on a real Forgejo", () => {
    beforeAll(async () => {
        forge = await startRealForgejo(binary!);
        expect((await forge.api("POST", "/orgs", { body: { username: "auditorg" } })).status).toBe(201);
        expect((await forge.api("POST", "/orgs/auditorg/repos", { body: { name: "feedback", auto_init: true } })).status).toBe(201);
        await account.configure!({ config: providerConfig({ forgeUrl: forge.url, forgeToken: forge.adminToken, forgeRetryBaseMs: "1" }) });
        await login.configure!({ config: providerConfig({ forgeUrl: forge.url, forgeToken: forge.adminToken, forgeRetryBaseMs: "1" }) });
    }, 120_000);
    afterAll(async () => {
        await forge?.stop();
    });

    async function make(login: string, description: string): Promise<void> {
        const res = await forge.api("POST", "/admin/users", { body: { username: login, email: `${login}@demo.test`, password: `${login}-own-Password-1`, must_change_password: false } });
        expect(res.status).toBe(201);
        expect((await forge.api("PATCH", `/admin/users/${login}`, { body: { description } })).status).toBe(200);
    }

    it("lists this stack's orphan, a gone record, another stack's account and a legacy look-alike, and leaves everyone else out", async () => {
        const create = async (login: string) => (await account.create!(accountInputs(login, FEEDBACK))).outs as ForgeAccountOutputs;
        const kept = await create("kept");
        const lost = await create("lost"); // its state write was lost: no record
        const gone = await create("gone");
        expect((await forge.api("DELETE", "/admin/users/gone?purge=true")).status).toBe(204);
        await make("theirs", `Hero OS demo account ${ownerMarker(OTHER_IDENTITY)}`);
        const theirs = (await account.create!(accountInputs("theirs", FEEDBACK))).outs as ForgeAccountOutputs;
        expect(theirs.createdByTool).toBe(false);
        await make("legacy", `Hero OS demo account ${LEGACY_MARKER}`);
        await make("plain", "someone's own account");

        const users = await forgeUsers({ baseUrl: forge.url, token: forge.adminToken });
        expect(users.map((u) => u.login).sort()).toEqual(["forge-admin", "kept", "legacy", "lost", "plain", "theirs"]);
        const rec: StateRecords = {
            identity: TEST_IDENTITY,
            namePrefix: "dev",
            vms: [],
            gateways: [],
            deployerKeys: [],
            accounts: [kept, gone, theirs].map((a) => ({ username: a.username, login: a.login, userId: a.userId, createdByTool: a.createdByTool, managedBy: a.managedBy })),
        };
        const report = audit(TEST_IDENTITY.stack, "http://compute.invalid", rec, { vms: [], gateways: [], users });
        expect(report.counts.accounts).toEqual({ inState: 1, orphans: 1, gone: 1, lookAlikes: 1, managedElsewhere: 1 });
        expect(report.orphans).toEqual([expect.objectContaining({ kind: "account", name: "lost", id: String(lost.userId) })]);
        expect(report.gone).toEqual([expect.objectContaining({ kind: "account", name: "gone", why: "the account is gone from Forge" })]);
        expect(report.lookAlikes.map((f) => f.name)).toEqual(["legacy"]);
        expect(report.managedElsewhere).toEqual([expect.objectContaining({ name: "theirs", why: `theirs is managed by stack ${OTHER_IDENTITY.stack} (${OTHER_IDENTITY.id})` })]);
    });

    it("lists this stack's Forge logins: one in state, an orphan, a gone record; another stack's is not listed", async () => {
        const make = async (username: string, identity = TEST_IDENTITY) =>
            (await login.create!({ username, gatewayUrl: `https://dev${username}.gw.test`, stack: identity.stack, stackId: identity.id })).outs as ForgeOAuthAppOutputs;
        const kept = await make("kept");
        const lost = await make("lost"); // its state write was lost: no record
        const gone = await make("gone");
        await login.delete!(String(gone.appId), gone);
        await make("theirs", OTHER_IDENTITY);
        const c = { baseUrl: forge.url, token: forge.adminToken };
        const records = [kept, gone].map((o) => ({ username: o.username, appId: o.appId, name: o.name, clientId: o.clientId }));
        const result = auditLogins(records, await listApps(c), TEST_IDENTITY);
        expect(result.counts).toEqual({ inState: 1, orphans: 1, gone: 1 });
        expect(result.orphans).toEqual([expect.objectContaining({ kind: "login", name: lost.name, id: String(lost.appId) })]);
        expect(result.gone).toEqual([expect.objectContaining({ kind: "login", id: String(gone.appId), why: "gone's Forge login is gone from the Forge" })]);
        // Through the whole audit too, with the accounts' part beside it.
        const rec: StateRecords = { identity: TEST_IDENTITY, namePrefix: "dev", vms: [], gateways: [], deployerKeys: [], accounts: [], logins: records };
        const report = audit(TEST_IDENTITY.stack, "http://compute.invalid", rec, { vms: [], gateways: [], users: await forgeUsers(c), apps: await listApps(c) });
        expect(report.counts.logins).toEqual({ inState: 1, orphans: 1, gone: 1 });
    });
});
