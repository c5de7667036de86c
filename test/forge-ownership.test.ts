/**
 * Whose a Forge account is, at the provider level (the ForgeAccount provider
 * in process against the fake Forgejo, calling check/diff/create/read/update as
 * `pulumi up` and `pulumi refresh` do; the replacement engine has not landed, so
 * these are not run under the real engine):
 * - an existing account this stack did not create is adopted only when its email
 *   is the users file's; otherwise that user's run stops, naming both addresses;
 * - another stack's marker is final, even when our generated password works;
 * - an account this stack created belongs to its user afterwards: a refresh and
 *   an update leave the email, full name and password they set, the preview shows
 *   no change for them, and replacing the password is the deliberate reset.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { diffForgeAccount, type ForgeAccountInputs, type ForgeAccountOutputs, forgeAccountProvider as provider } from "../providers/forge/account";
import { cockpitTokenName, ownerMarker } from "../providers/ownership";
import { FakeForgejo } from "./fakes/forgejo";
import { accountInputs, OTHER_IDENTITY, providerConfig, TEST_IDENTITY } from "./support/fixtures";

const FEEDBACK = "lhumina_public/feedback";
let fake: FakeForgejo;

beforeAll(async () => {
    fake = await FakeForgejo.start();
    fake.addRepo(FEEDBACK);
});
afterAll(async () => {
    await fake.stop();
});
beforeEach(async () => {
    fake.clearFaults();
    await provider.configure!({ config: providerConfig({ forgeUrl: fake.url, forgeToken: fake.adminToken, forgeRetryBaseMs: "1", forgeTimeoutMs: "1000" }) });
});

const inputs = (username: string, over: Partial<ForgeAccountInputs> = {}): ForgeAccountInputs => ({ ...accountInputs(username, FEEDBACK), ...over });
/** Requests that changed something on the account or its tokens (the feedback grant aside). */
const writesTo = (login: string, from: number) =>
    fake.requests.slice(from).filter((r) => r.method !== "GET" && !r.path.startsWith("/repos/") && r.path.includes(login)).map((r) => `${r.method} ${r.path}`);

describe("adopting an account this stack did not create", () => {
    it("regression: an account whose email is not the users file's is refused, naming both addresses and what to do; nothing is written to it (was adopted on its name)", async () => {
        fake.addUser({ login: "victor", email: "victor.someone@elsewhere.test", password: "victors-own-password" });
        const from = fake.requests.length;
        const err = await provider.create!(inputs("victor")).then(() => undefined, (e: Error) => e);
        expect(err?.message).toMatch(
            /^victor: Forge account "victor" already exists with email victor\.someone@elsewhere\.test, but the users file gives victor@demo\.test, so it may be someone else's account; it was not adopted.*set their email in the users file.*give this user another username/,
        );
        expect(writesTo("victor", from)).toEqual([]);
        expect(fake.collaborators(FEEDBACK).victor).toBeUndefined(); // no access either: the run stopped before the grant
        expect(fake.tokensOf("victor")).toHaveLength(0);
    });

    it("an account with the users file's email (any case) is adopted read-only", async () => {
        fake.addUser({ login: "wanda", email: "WANDA@demo.test", password: "wandas-own-password" });
        const outs = (await provider.create!(inputs("wanda"))).outs as ForgeAccountOutputs;
        expect(outs).toMatchObject({ createdByTool: false, tokenId: 0 });
    });

    it("regression: another stack's account is never claimed, even when our generated password happens to work on it", async () => {
        const u = fake.addUser({ login: "xena", email: "xena@demo.test", password: inputs("xena").password, description: `Hero OS demo account ${ownerMarker(OTHER_IDENTITY)}` });
        fake.tokens.push({ id: 9500, userId: u.id, name: cockpitTokenName(OTHER_IDENTITY), sha1: "other-xena-token-text-00000000000000000", scopes: ["read:user"] });
        const from = fake.requests.length;
        const outs = (await provider.create!(inputs("xena"))).outs as ForgeAccountOutputs;
        expect(outs).toMatchObject({ createdByTool: false, token: "", tokenId: 0, managedBy: expect.stringContaining(OTHER_IDENTITY.stack) });
        expect(writesTo("xena", from)).toEqual([]);
        expect(fake.user("xena")!.description).toContain(ownerMarker(OTHER_IDENTITY));
        expect(fake.tokensOf("xena").map((t) => t.name)).toEqual([cockpitTokenName(OTHER_IDENTITY)]);
    });
});

describe("an account this stack created belongs to its user", () => {
    /** The user changes their own email, full name and password on the Forge. */
    function userChangesEverything(login: string) {
        Object.assign(fake.user(login)!, { email: `${login}@own-choice.test`, full_name: `${login}, as they like it`, password: `${login}-own-new-password` });
    }

    it("regression: refresh then up leaves the email, full name and password the user set; the preview shows no change", async () => {
        const created = (await provider.create!(inputs("yara"))) as { id: string; outs: ForgeAccountOutputs };
        userChangesEverything("yara");
        const read = (await provider.read!(created.id, created.outs)).props as ForgeAccountOutputs;
        const diff = diffForgeAccount(read, inputs("yara"));
        expect(diff).toMatchObject({ changes: false, changed: [] });
        // An update for another reason (a new feedback repo) still leaves them alone.
        fake.addRepo("lhumina_public/feedback-yara");
        await provider.update!(created.id, read, inputs("yara", { feedbackRepo: "lhumina_public/feedback-yara" }));
        expect(fake.user("yara")).toMatchObject({ email: "yara@own-choice.test", full_name: "yara, as they like it", password: "yara-own-new-password" });
    });

    it("a replaced password (pulumi up --replace of the random password) is the deliberate reset: the password only", async () => {
        const created = (await provider.create!(inputs("zack"))) as { id: string; outs: ForgeAccountOutputs };
        userChangesEverything("zack");
        const read = (await provider.read!(created.id, created.outs)).props as ForgeAccountOutputs;
        const news = inputs("zack", { password: "reset-zack-Password-77" });
        expect(diffForgeAccount(read, news).changed).toEqual(["password"]);
        await provider.update!(created.id, read, news);
        expect(fake.user("zack")).toMatchObject({ password: "reset-zack-Password-77", email: "zack@own-choice.test", full_name: "zack, as they like it" });
    });

    it("an account of ours found again by a create (the user re-added after a teardown kept it) gets our password and marker, not our email or name back", async () => {
        await provider.create!(inputs("abel"));
        userChangesEverything("abel");
        await provider.create!(inputs("abel"));
        expect(fake.user("abel")).toMatchObject({ email: "abel@own-choice.test", full_name: "abel, as they like it", password: inputs("abel").password });
        expect(fake.user("abel")!.description).toContain(ownerMarker(TEST_IDENTITY));
    });
});
