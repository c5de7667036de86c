/**
 * The Forge providers against a real Forgejo (test/support/real-forgejo.ts):
 * the ForgeAccount's create, adoption, token minting, update, refresh and
 * delete, and the FeedbackHub's create, adoption, templates and purge, checked
 * through Forgejo's own API. What the real server answers differently from the
 * fake is pinned here by tests named "real Forgejo: ...".
 *
 * Faults (5xx, 429, resets, slow answers, answers lost after the change was
 * made) come from a small proxy in front of the real server
 * (test/support/fault-proxy.ts). The fake stays for what the real server
 * cannot be made to do here: see docs/testing.md, "A real Forgejo in the tests".
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { accountInputs, OTHER_IDENTITY, providerConfig, TEST_IDENTITY } from "./support/fixtures";
import { realForgejoBinary, startRealForgejo, type RealForgejo } from "./support/real-forgejo";
import { cockpitTokenName, ownerMarker } from "../providers/ownership";
import { ForgeAccountInputs, ForgeAccountOutputs, TOKEN_SCOPES, forgeAccountProvider as account } from "../providers/forge/account";
import { FeedbackHubOutputs, TEMPLATES, orgDescription, repoDescription, feedbackHubProvider as hub } from "../providers/forge/feedback-hub";
import { FakeForgejo } from "./fakes/forgejo";
import { FaultProxy } from "./support/fault-proxy";

const binary = realForgejoBinary("test/forge-real.test.ts");
const FEEDBACK = "lhumina_public/feedback";
const MARKER = ownerMarker(TEST_IDENTITY);
const PATHS = Object.keys(TEMPLATES);
const ME = { stack: TEST_IDENTITY.stack, stackId: TEST_IDENTITY.id };
let forge: RealForgejo;

beforeAll(async () => {
    if (!binary) return;
    forge = await startRealForgejo(binary);
    // The feedback repo every account is granted: an org of the admin's, with one repo.
    expect((await forge.api("POST", "/orgs", { body: { username: "lhumina_public", visibility: "public" } })).status).toBe(201);
    expect((await forge.api("POST", "/orgs/lhumina_public/repos", { body: { name: "feedback", auto_init: true } })).status).toBe(201);
}, 120_000);
afterAll(async () => {
    await forge?.stop();
});
beforeEach(async () => {
    await configure();
});

async function configure(extra: Record<string, string> = {}): Promise<void> {
    if (!binary) return;
    const values = { forgeUrl: forge.url, forgeToken: forge.adminToken, forgeRetryBaseMs: "1", forgeTimeoutMs: "10000", ...extra };
    await account.configure!({ config: providerConfig(values) });
    await hub.configure!({ config: providerConfig(values) });
}

function inputs(username: string, over: Partial<ForgeAccountInputs> = {}): ForgeAccountInputs {
    return { ...accountInputs(username, FEEDBACK), ...over };
}

async function create(i: ForgeAccountInputs): Promise<ForgeAccountOutputs> {
    const res = await account.create!(i);
    expect(res.id).toBe(res.outs!.login);
    return res.outs as ForgeAccountOutputs;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
    const err = await p.then(
        () => undefined,
        (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    return err as Error;
}

/** The user as the admin sees it, or undefined. */
async function user(login: string): Promise<{ id: number; login: string; email: string; full_name: string; description: string } | undefined> {
    const res = await forge.api("GET", `/users/${login}`);
    return res.status === 200 ? res.body : undefined;
}

/** Makes an account the way an admin would by hand, with its own password. */
async function addUser(login: string, password: string, over: Record<string, unknown> = {}) {
    // The users file's address: an existing account is adopted only when its email matches it.
    const res = await forge.api("POST", "/admin/users", { body: { username: login, email: `${login}@demo.test`, password, must_change_password: false, ...over } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: number; login: string };
}

/** The user's tokens, seen with Basic auth as that user. */
async function tokensOf(login: string, password: string): Promise<Array<{ id: number; name: string; scopes: string[] }>> {
    const res = await forge.api("GET", `/users/${login}/tokens`, { auth: { username: login, password } });
    expect(res.status).toBe(200);
    return res.body;
}

async function whoIs(token: string): Promise<string | number> {
    const res = await forge.api("GET", "/user", { auth: { token } });
    return res.status === 200 ? res.body.login : res.status;
}

async function permission(repo: string, login: string): Promise<string | number> {
    const res = await forge.api("GET", `/repos/${repo}/collaborators/${login}/permission`);
    return res.status === 200 ? res.body.permission : res.status;
}

describe.skipIf(!binary)("a real Forgejo", () => {
    it("is the pinned Forgejo, started with an admin made by its own CLI", async () => {
        expect(forge.version).toBe(binary!.version);
        expect(await whoIs(forge.adminToken)).toBe("forge-admin");
    });
});

describe.skipIf(!binary)("ForgeAccount on a real Forgejo", () => {
    it("creates a missing user marked as ours, mints a narrow token with Basic auth that works, and grants read access to the feedback repo", async () => {
        const outs = await create(inputs("alice"));
        const u = (await user("alice"))!;
        expect(u.description).toContain(MARKER);
        expect(outs).toMatchObject({ login: "alice", userId: u.id, createdByTool: true, feedbackAccess: true, managedBy: "" });
        // The generated password works (no "must change password"), and so does the token.
        expect(await whoIs(outs.token)).toBe("alice");
        const tokens = await tokensOf("alice", inputs("alice").password);
        expect(tokens.map((t) => ({ id: t.id, name: t.name, scopes: [...t.scopes].sort() }))).toEqual([{ id: outs.tokenId, name: cockpitTokenName(TEST_IDENTITY), scopes: [...TOKEN_SCOPES].sort() }]);
        expect(await permission(FEEDBACK, "alice")).toBe("read");
    });

    it("a create repeated after a crash before Pulumi wrote state adopts its own account: no second user, one token", async () => {
        const first = await create(inputs("bob"));
        const second = await create(inputs("bob"));
        expect(second).toMatchObject({ userId: first.userId, createdByTool: true });
        expect((await tokensOf("bob", inputs("bob").password)).map((t) => t.id)).toEqual([second.tokenId]);
        expect(await whoIs(first.token)).toBe(401);
        expect(await whoIs(second.token)).toBe("bob");
    });

    it("a user made without our marker but with our generated password (a create that crashed before marking) is claimed and marked", async () => {
        await addUser("carol", inputs("carol").password);
        const outs = await create(inputs("carol"));
        expect(outs.createdByTool).toBe(true);
        expect((await user("carol"))!.description).toContain(MARKER);
    });

    it("adopts an account of its own as is: no password change, no token, feedback access granted", async () => {
        const made = await addUser("kate", "kates-own-password", { full_name: "Kate" });
        const outs = await create(inputs("kate"));
        expect(outs).toMatchObject({ createdByTool: false, token: "", tokenId: 0, userId: made.id, feedbackAccess: true });
        expect(await tokensOf("kate", "kates-own-password")).toEqual([]);
        expect((await user("kate"))!).toMatchObject({ email: "kate@demo.test", full_name: "Kate", description: "" });
        expect(await permission(FEEDBACK, "kate")).toBe("read");
    });

    it("an account marked by another stack is adopted read-only and survives a purging delete", async () => {
        await addUser("oscar", "the-other-stacks-password");
        expect((await forge.api("PATCH", "/admin/users/oscar", { body: { description: `Hero OS demo account ${ownerMarker(OTHER_IDENTITY)}` } })).status).toBe(200);
        const outs = await create(inputs("oscar"));
        expect(outs).toMatchObject({ createdByTool: false, tokenId: 0, managedBy: `oscar is managed by stack ${OTHER_IDENTITY.stack} (${OTHER_IDENTITY.id})` });
        await configure({ purgeAccountsOnTeardown: "true" });
        await account.delete!("oscar", outs);
        expect(await user("oscar")).toBeDefined();
        expect((await forge.api("GET", "/user", { auth: { username: "oscar", password: "the-other-stacks-password" } })).status).toBe(200);
    });

    it("does not downgrade an existing higher permission on the feedback repo", async () => {
        await addUser("mia", "mias-own-password");
        expect((await forge.api("PUT", `/repos/${FEEDBACK}/collaborators/mia`, { body: { permission: "write" } })).status).toBe(204);
        await create(inputs("mia"));
        expect(await permission(FEEDBACK, "mia")).toBe("write");
    });

    it("patches email and full name in place and rotates the password, keeping the token", async () => {
        const olds = await create(inputs("nina"));
        const news = inputs("nina", { email: "nina@new.test", fullName: "Nina N", password: "rotated-nina-Password-7" });
        const { outs } = (await account.update!("nina", olds, news)) as { outs: ForgeAccountOutputs };
        expect((await user("nina"))!).toMatchObject({ email: "nina@new.test", full_name: "Nina N" });
        expect((await forge.api("GET", "/user", { auth: { username: "nina", password: "rotated-nina-Password-7" } })).status).toBe(200);
        expect((await forge.api("GET", "/user", { auth: { username: "nina", password: olds.password } })).status).toBe(401);
        expect(outs).toMatchObject({ tokenId: olds.tokenId, token: olds.token });
        expect(await whoIs(outs.token)).toBe("nina");
        // The rotated password is what delete uses to revoke the token.
        await account.delete!("nina", outs);
        expect(await whoIs(outs.token)).toBe(401);
        expect(await user("nina")).toBeDefined();
    });

    it("refresh notices a revoked token and lost feedback access, the update heals them, and the full name the user changed is kept", async () => {
        const outs = await create(inputs("tess"));
        expect((await forge.api("PATCH", "/admin/users/tess", { body: { full_name: "Changed Outside" } })).status).toBe(200);
        const pw = inputs("tess").password;
        expect((await forge.api("DELETE", `/users/tess/tokens/${outs.tokenId}`, { auth: { username: "tess", password: pw } })).status).toBe(204);
        expect((await forge.api("DELETE", `/repos/${FEEDBACK}/collaborators/tess`)).status).toBe(204);
        const read = (await account.read!("tess", outs)).props as ForgeAccountOutputs;
        // The account belongs to its user after creation: their name is not a drift to undo (issue 21).
        expect(read).toMatchObject({ fullName: outs.fullName, token: "", tokenId: 0, feedbackAccess: false });
        const { outs: healed } = (await account.update!("tess", read, inputs("tess"))) as { outs: ForgeAccountOutputs };
        expect(await whoIs(healed.token)).toBe("tess");
        expect((await user("tess"))!.full_name).toBe("Changed Outside");
        expect(await permission(FEEDBACK, "tess")).toBe("read");
    });

    it("refresh notices an account deleted outside the tool, and one deleted and re-created by someone else", async () => {
        const rosa = await create(inputs("rosa"));
        expect((await forge.api("DELETE", "/admin/users/rosa?purge=true")).status).toBe(204);
        expect((await account.read!("rosa", rosa)).id).toBe("");
        const sam = await create(inputs("sam"));
        expect((await forge.api("DELETE", "/admin/users/sam?purge=true")).status).toBe(204);
        await addUser("sam", "someone-elses-password");
        expect((await account.read!("sam", sam)).id).toBe("");
    });

    it("purges an account it created when config says so; a second delete finds it gone and is done", async () => {
        const outs = await create(inputs("vic"));
        await configure({ purgeAccountsOnTeardown: "true" });
        await account.delete!("vic", outs);
        expect(await user("vic")).toBeUndefined();
        await account.delete!("vic", outs);
    });

    it("says what to do when the user changed the password and the token cannot be revoked", async () => {
        const outs = await create(inputs("xena"));
        expect((await forge.api("PATCH", "/admin/users/xena", { body: { password: "changed-by-xena-1", source_id: 0, login_name: "xena" } })).status).toBe(200);
        const err = await rejection(account.delete!("xena", outs));
        expect(err.message).toMatch(/^cannot revoke Forge token \d+ of "xena": Forge refused the password/);
        expect(err.message).not.toContain(inputs("xena").password);
    });

    it("says which repo is missing when the feedback repo does not exist", async () => {
        const err = await rejection(account.create!(inputs("ivan", { feedbackRepo: "lhumina_public/nope" })));
        expect(err.message).toMatch(/^feedback repo "lhumina_public\/nope" was not found on Forge; /);
    });

    it("turns the real Forgejo's refusals into messages an admin can act on: email taken, reserved name, bad or non-admin token", async () => {
        await addUser("someone", "someones-password", { email: "shared@demo.test" });
        const email = await rejection(account.create!(inputs("hank", { email: "shared@demo.test" })));
        expect(email.message).toMatch(/^email "shared@demo.test" of "hank" is already used by another Forge account; /);
        const reserved = await rejection(account.create!(inputs("admin")));
        expect(reserved.message).toMatch(/^username "admin" is not allowed by Forge; /);
        await configure({ forgeToken: "0000000000000000000000000000000000000000" });
        const denied = await rejection(account.create!(inputs("hank")));
        expect(denied.message).toMatch(/^Forge refused the token in config hero-os-grid-deployer:forgeToken/);
        await configure();
        const plain = await create(inputs("plainuser"));
        await configure({ forgeToken: plain.token });
        const notAdmin = await rejection(account.create!(inputs("hank")));
        expect(notAdmin.message).toMatch(/^the Forge token in config hero-os-grid-deployer:forgeToken is not allowed to do this; it must belong to a site administrator/);
        expect(await user("hank")).toBeUndefined();
    });

    it("real Forgejo: a malformed email is refused as \"contains unsupported character\" (not \"e-mail invalid\"), and the message still names the email", async () => {
        const res = await forge.api("POST", "/admin/users", { body: { username: "bademail", email: "not-an-email", password: "long-enough-Password-1" } });
        expect(res).toMatchObject({ status: 422, body: { message: "[Email]: e-mail address contains unsupported character [email: not-an-email]" } });
        const err = await rejection(account.create!(inputs("bademail", { email: "not-an-email" })));
        expect(err.message).toMatch(/^email "not-an-email" of "bademail" is refused by Forge; fix it in the users file/);
        const olds = await create(inputs("goodemail"));
        const patched = await rejection(account.update!("goodemail", olds, inputs("goodemail", { email: "still bad@demo.test" })));
        expect(patched.message).toMatch(/^email "still bad@demo.test" of "goodemail" is refused by Forge; /);
    });

    it("a password shorter than Forgejo's minimum is refused with the policy message", async () => {
        const olds = await create(inputs("omar"));
        const err = await rejection(account.update!("omar", olds, inputs("omar", { password: "short" })));
        expect(err.message).toMatch(/^password rejected by Forge policy: /);
    });
});

describe.skipIf(!binary)("FeedbackHub on a real Forgejo", () => {
    async function file(repo: string, p: string): Promise<string | undefined> {
        const res = await forge.api("GET", `/repos/${repo}/contents/${p}`);
        return res.status === 200 ? Buffer.from(res.body.content, "base64").toString("utf8") : undefined;
    }

    async function createHub(repo: string): Promise<FeedbackHubOutputs> {
        const res = await hub.create!({ repo, ...ME });
        expect(res.id).toBe(res.outs!.fullName);
        return res.outs as FeedbackHubOutputs;
    }

    it("creates a public org and public repo carrying our marker, with the three issue templates", async () => {
        const outs = await createHub("fresh/feedback");
        const org = (await forge.api("GET", "/orgs/fresh")).body;
        const repo = (await forge.api("GET", "/repos/fresh/feedback")).body;
        expect(org).toMatchObject({ visibility: "public", description: orgDescription(TEST_IDENTITY) });
        expect(repo).toMatchObject({ private: false, description: repoDescription(TEST_IDENTITY), empty: false });
        expect(outs).toMatchObject({ org: "fresh", ownerKind: "organization", orgId: org.id, repoId: repo.id, repoUrl: `${forge.url}/fresh/feedback`, orgCreatedByTool: true, repoCreatedByTool: true, templates: PATHS, customizedTemplates: [] });
        for (const p of PATHS) expect(await file("fresh/feedback", p)).toBe(TEMPLATES[p]);
    });

    it("adopts an existing org and repo as is, adding only the missing templates and never overwriting one", async () => {
        expect((await forge.api("POST", "/orgs", { body: { username: "team", description: "the team's own org" } })).status).toBe(201);
        expect((await forge.api("POST", "/orgs/team/repos", { body: { name: "feedback", description: "real feedback", auto_init: true } })).status).toBe(201);
        const ours = Buffer.from("---\nname: Our own bug form\n---\n").toString("base64");
        expect((await forge.api("POST", `/repos/team/feedback/contents/${PATHS[0]}`, { body: { content: ours } })).status).toBe(201);
        const outs = await createHub("team/feedback");
        expect(outs).toMatchObject({ orgCreatedByTool: false, repoCreatedByTool: false, templates: PATHS, customizedTemplates: [PATHS[0]] });
        expect(await file("team/feedback", PATHS[0])).toBe("---\nname: Our own bug form\n---\n");
        expect(await file("team/feedback", PATHS[1])).toBe(TEMPLATES[PATHS[1]]);
        expect((await forge.api("GET", "/repos/team/feedback")).body.description).toBe("real feedback");
    });

    it("real Forgejo: an empty repo answers 200 [] for every path, not 404; the templates are still added to an adopted empty repo", async () => {
        expect((await forge.api("POST", "/orgs", { body: { username: "emptyorg" } })).status).toBe(201);
        expect((await forge.api("POST", "/orgs/emptyorg/repos", { body: { name: "feedback", auto_init: false } })).status).toBe(201);
        expect(await forge.api("GET", `/repos/emptyorg/feedback/contents/${PATHS[0]}`)).toEqual({ status: 200, body: [] });
        const outs = await createHub("emptyorg/feedback");
        expect(outs).toMatchObject({ templates: PATHS, customizedTemplates: [] });
        for (const p of PATHS) expect(await file("emptyorg/feedback", p)).toBe(TEMPLATES[p]);
        expect((await forge.api("GET", "/repos/emptyorg/feedback")).body.empty).toBe(false);
    });

    it("adopts a repo owned by a user account; a user account without that repo is refused with advice", async () => {
        await addUser("solo", "solos-own-password");
        expect((await forge.api("POST", "/admin/users/solo/repos", { body: { name: "feedback", auto_init: true } })).status).toBe(201);
        expect(await createHub("solo/feedback")).toMatchObject({ org: "solo", ownerKind: "user", orgId: 0, orgCreatedByTool: false, repoCreatedByTool: false });
        await addUser("person", "persons-own-password");
        const err = await rejection(hub.create!({ repo: "person/feedback", ...ME }));
        expect(err.message).toMatch(/^"person" is a Forge user account, not an organization/);
    });

    it("read reports what is there; update puts back a template deleted outside the tool", async () => {
        const outs = await createHub("ru/feedback");
        expect((await hub.read!("ru/feedback", outs)).props).toEqual(outs);
        const sha = (await forge.api("GET", `/repos/ru/feedback/contents/${PATHS[1]}`)).body.sha;
        expect((await forge.api("DELETE", `/repos/ru/feedback/contents/${PATHS[1]}`, { body: { sha } })).status).toBe(200);
        const read = (await hub.read!("ru/feedback", outs)).props as FeedbackHubOutputs;
        expect(read.templates).toEqual([PATHS[0], PATHS[2]]);
        const updated = (await hub.update!("ru/feedback", read, { repo: "ru/feedback", ...ME })).outs as FeedbackHubOutputs;
        expect(updated.templates).toEqual(PATHS);
        expect(await file("ru/feedback", PATHS[1])).toBe(TEMPLATES[PATHS[1]]);
    });

    it("with purgeFeedbackHubOnTeardown deletes the repo and org it created; again is done; an adopted one is kept", async () => {
        const outs = await createHub("purge/feedback");
        await configure({ purgeFeedbackHubOnTeardown: "true" });
        await hub.delete!("purge/feedback", outs);
        expect((await forge.api("GET", "/repos/purge/feedback")).status).toBe(404);
        expect((await forge.api("GET", "/orgs/purge")).status).toBe(404);
        await hub.delete!("purge/feedback", outs);
        expect((await forge.api("POST", "/orgs", { body: { username: "adopted" } })).status).toBe(201);
        expect((await forge.api("POST", "/orgs/adopted/repos", { body: { name: "feedback", auto_init: true } })).status).toBe(201);
        const adopted = await createHub("adopted/feedback");
        await hub.delete!("adopted/feedback", adopted);
        expect((await forge.api("GET", "/repos/adopted/feedback")).status).toBe(200);
    });

    it("with purge on, deletes its repo but keeps its org while someone else's repo lives in it", async () => {
        const outs = await createHub("shared/feedback");
        expect((await forge.api("POST", "/orgs/shared/repos", { body: { name: "other", auto_init: true } })).status).toBe(201);
        await configure({ purgeFeedbackHubOnTeardown: "true" });
        await hub.delete!("shared/feedback", outs);
        expect((await forge.api("GET", "/repos/shared/feedback")).status).toBe(404);
        expect((await forge.api("GET", "/orgs/shared")).status).toBe(200);
    });
});

describe.skipIf(!binary)("faults between the providers and a real Forgejo (through a fault-injecting proxy)", () => {
    let proxy: FaultProxy;
    beforeAll(async () => {
        if (binary) proxy = await FaultProxy.start(forge.url);
    });
    afterAll(async () => {
        await proxy?.stop();
    });
    beforeEach(async () => {
        proxy.clearFaults();
        await configure({ forgeUrl: proxy.url, forgeTimeoutMs: "1000" });
    });

    it("a create that crashed after POST but before marking is recognised by the generated password and marked", async () => {
        proxy.inject("PATCH", "/admin/users/fcarol", { kind: "status", status: 500 }, 50);
        await rejection(account.create!(inputs("fcarol")));
        expect((await user("fcarol"))!.description).toBe("");
        proxy.clearFaults();
        const outs = await create(inputs("fcarol"));
        expect(outs.createdByTool).toBe(true);
        expect((await user("fcarol"))!.description).toContain(MARKER);
    });

    it("a lost POST answer (connection reset after Forgejo made the user) is looked up, not blindly repeated", async () => {
        proxy.inject("POST", "/admin/users", { kind: "reset", when: "after" });
        const before = proxy.count("POST", "/admin/users");
        const outs = await create(inputs("fdave"));
        expect(proxy.count("POST", "/admin/users") - before).toBe(1);
        expect(outs).toMatchObject({ createdByTool: true, userId: (await user("fdave"))!.id });
        expect(await whoIs(outs.token)).toBe("fdave");
    });

    it("a lost token answer leaves a token nobody can read: it is deleted by name and minted again", async () => {
        proxy.inject("POST", "/users/ferin/tokens", { kind: "reset", when: "after" });
        const outs = await create(inputs("ferin"));
        expect((await tokensOf("ferin", inputs("ferin").password)).map((t) => t.id)).toEqual([outs.tokenId]);
        expect(await whoIs(outs.token)).toBe("ferin");
    });

    it("converges through 500s, 429s and a slow answer", async () => {
        proxy.inject("GET", "/users/ffrank", { kind: "status", status: 500 }, 2);
        proxy.inject("POST", "/admin/users", { kind: "status", status: 503 }, 1);
        proxy.inject("PUT", /\/collaborators\/ffrank$/, { kind: "status", status: 429, retryAfterSeconds: 0 }, 1);
        proxy.inject("GET", "/users/ffrank/tokens", { kind: "slow", ms: 1500 }, 1);
        const outs = await create(inputs("ffrank"));
        expect(outs).toMatchObject({ createdByTool: true, feedbackAccess: true });
        expect(await tokensOf("ffrank", inputs("ffrank").password)).toHaveLength(1);
    });

    it("fails with a clear message when Forge keeps failing, and creates nothing", async () => {
        proxy.inject("GET", "/users/fgina", { kind: "status", status: 502 }, 50);
        const err = await rejection(account.create!(inputs("fgina")));
        expect(err.message).toMatch(/^Forge at http:\/\/127\.0\.0\.1:\d+ is unreachable or failing; .*\(gave up after 4 attempts\)\)$/);
        expect(await user("fgina")).toBeUndefined();
    });

    it("feedback hub: after a crash between repo and templates, a retried create claims its own marked org and repo and finishes", async () => {
        proxy.inject("POST", `/repos/fcrash/feedback/contents/${PATHS[1]}`, { kind: "status", status: 403 });
        const err = await rejection(hub.create!({ repo: "fcrash/feedback", ...ME }));
        expect(err.message).toContain("must belong to a site administrator");
        const outs = (await hub.create!({ repo: "fcrash/feedback", ...ME })).outs as FeedbackHubOutputs;
        expect(outs).toMatchObject({ orgCreatedByTool: true, repoCreatedByTool: true, templates: PATHS, customizedTemplates: [] });
        expect(proxy.count("POST", "/orgs/fcrash/repos")).toBe(1);
    });

    it("feedback hub: answers lost after the org, repo and a template were made are settled by looking again, not by a second create", async () => {
        proxy.inject("POST", "/orgs", { kind: "reset", when: "after" });
        proxy.inject("POST", "/orgs/flost/repos", { kind: "reset", when: "after" });
        proxy.inject("POST", `/repos/flost/feedback/contents/${PATHS[2]}`, { kind: "reset", when: "after" });
        const orgPosts = proxy.count("POST", "/orgs");
        const outs = (await hub.create!({ repo: "flost/feedback", ...ME })).outs as FeedbackHubOutputs;
        expect(outs).toMatchObject({ orgCreatedByTool: true, repoCreatedByTool: true, templates: PATHS, customizedTemplates: [] });
        expect(proxy.count("POST", "/orgs") - orgPosts).toBe(1);
        expect(proxy.count("POST", "/orgs/flost/repos")).toBe(1);
        // A template is a file at a path, which cannot be made twice. Once, on a loaded machine, a second
        // POST went out: the provider posts again only when its read finds no file, and a real Forgejo
        // can answer a read of a repo just made non-empty as if it were still empty. It then refuses
        // the second POST ("already exists"), which the provider settles by reading again.
        const posts = proxy.count("POST", `/repos/flost/feedback/contents/${PATHS[2]}`);
        expect(posts).toBeGreaterThanOrEqual(1);
        expect(posts).toBeLessThanOrEqual(2);
    });
});

/**
 * The same requests, in the same order, to the fake and to the real Forgejo:
 * every status must agree, and every message the providers read too. The
 * messages that differ are listed in MESSAGE_DIFFERENCES with why that is
 * harmless.
 */
type Probe = [method: string, path: string, body?: unknown, auth?: "basic" | "wrong-basic" | "bad-token"];
const PROBES: Probe[] = [
    ["POST", "/admin/users", { username: "p1", email: "p1@probe.test", password: "long-enough-Password-1", must_change_password: false }],
    ["POST", "/admin/users", { username: "p2", email: "p1@probe.test", password: "long-enough-Password-1", must_change_password: false }],
    ["POST", "/admin/users", { username: "admin", email: "p3@probe.test", password: "long-enough-Password-1" }],
    ["POST", "/admin/users", { username: "p1", email: "p9@probe.test", password: "long-enough-Password-1" }],
    ["POST", "/admin/users", { username: "p4", email: "p4@probe.test", password: "short" }],
    ["POST", "/admin/users", { username: "p5", email: "not-an-email", password: "long-enough-Password-1" }],
    ["PATCH", "/admin/users/p1", { password: "short" }],
    ["PATCH", "/admin/users/p1", { email: "bad" }],
    ["PATCH", "/admin/users/p1", { source_id: 0 }],
    ["DELETE", "/admin/users/nobody-here"],
    ["GET", "/admin/users", undefined, "bad-token"],
    ["GET", "/user", undefined, "wrong-basic"],
    ["POST", "/users/p1/tokens", { name: "t", scopes: ["read:user"] }, "basic"],
    ["POST", "/users/p1/tokens", { name: "t", scopes: ["read:user"] }, "basic"],
    ["POST", "/users/p1/tokens", { name: "t2", scopes: ["read:user"] }],
    ["DELETE", "/users/p1/tokens/99999", undefined, "basic"],
    ["POST", "/orgs", { username: "p1" }],
    ["POST", "/orgs", { username: "porg", visibility: "public" }],
    ["POST", "/orgs/porg/repos", { name: "bare" }],
    ["POST", "/orgs/porg/repos", { name: "bare" }],
    ["POST", "/orgs/nope/repos", { name: "x" }],
    ["GET", "/repos/porg/bare/contents/README.md"],
    ["POST", "/repos/porg/bare/contents/docs/a.md", { content: "aGk=" }],
    ["POST", "/repos/porg/bare/contents/docs/a.md", { content: "aGk=" }],
    ["POST", "/repos/porg/bare/contents/.git/hooks/x", { content: "aGk=" }],
    ["GET", "/repos/porg/bare/contents/docs/missing.md"],
    ["DELETE", "/orgs/porg"],
    ["GET", "/repos/porg/bare/collaborators/p1"],
    ["PUT", "/repos/porg/bare/collaborators/p1", { permission: "read" }],
    ["PUT", "/repos/porg/bare/collaborators/nobody-here", { permission: "read" }],
    ["GET", "/repos/porg/bare/collaborators/p1"],
    ["GET", "/orgs/p1"],
    ["DELETE", "/repos/porg/nothere"],
];

/** Probe index → why the message differs and why that does not matter. */
const MESSAGE_DIFFERENCES: Record<number, string> = {
    9: "DELETE of a missing user: Forgejo says 'user redirect does not exist', the fake Forgejo's generic 404 text; callers read the status only",
    20: "POST to a missing org's repos: Forgejo says 'GetOrgByName', the fake the generic 404 text; callers read the status only",
    25: "GET of a missing file: Forgejo says 'GetContentsOrList', the fake the generic 404 text; the hub reads the status only",
    31: "GET /orgs/{a user}: Forgejo says 'GetOrgByName', the fake the generic 404 text; callers read the status only",
};

describe.skipIf(!binary)("the fake answers as the real Forgejo does", () => {
    it("the same requests get the same statuses, and the same messages wherever a provider reads them", async () => {
        const fake = await FakeForgejo.start();
        try {
            const answers = async (url: string, token: string) => {
                const out: Array<{ status: number; message: string }> = [];
                for (const [method, p, body, auth] of PROBES) {
                    const headers: Record<string, string> = { "content-type": "application/json" };
                    const basic = (pw: string) => `Basic ${Buffer.from(`p1:${pw}`).toString("base64")}`;
                    headers.authorization =
                        auth === "basic" ? basic("long-enough-Password-1") : auth === "wrong-basic" ? basic("wrong-password") : auth === "bad-token" ? "token 0000000000000000000000000000000000000000" : `token ${token}`;
                    const res = await fetch(`${url}/api/v1${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
                    const text = await res.text();
                    let message = "";
                    try {
                        message = String((JSON.parse(text) as { message?: string }).message ?? "");
                    } catch {
                        message = "";
                    }
                    // Forgejo appends ids to some messages ("[uid: 3, name: p1]"), which depend on what was made before; the providers match the words before them.
                    out.push({ status: res.status, message: res.ok ? "" : message.replace(/ \[uid: \d+[^\]]*\]$/, "") });
                }
                return out;
            };
            const real = await answers(forge.url, forge.adminToken);
            const faked = await answers(fake.url, fake.adminToken);
            const diffs = PROBES.map((probe, i) => ({ i, probe: `${probe[0]} ${probe[1]}`, real: real[i], fake: faked[i] })).filter(
                (d) => d.real.status !== d.fake.status || (d.real.message !== d.fake.message && !MESSAGE_DIFFERENCES[d.i]),
            );
            expect(diffs).toEqual([]);
            for (const i of Object.keys(MESSAGE_DIFFERENCES).map(Number)) {
                expect(real[i].message, `probe ${i} is listed as differing`).not.toBe(faked[i].message);
            }
        } finally {
            await fake.stop();
        }
    });
});
