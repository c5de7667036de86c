/**
 * The ForgeAccount provider's lifecycle, in-process, against the fake Forgejo.
 * (test/forge-host.test.ts runs the same provider serialized, in Pulumi's host.)
 */
import { accountInputs, OTHER_IDENTITY, providerConfig, TEST_IDENTITY } from "./support/fixtures";
import { cockpitTokenName, LEGACY_MARKER, LEGACY_TOKEN_NAME, ownerMarker } from "../providers/ownership";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
    ForgeAccountInputs,
    ForgeAccountOutputs,
    TOKEN_SCOPES,
    checkForgeAccount,
    diffForgeAccount,
    forgeAccountProvider as provider,
} from "../providers/forge/account";
import { FakeForgejo } from "./fakes/forgejo";

const FEEDBACK = "lhumina_public/feedback";
const FORGE_MARKER = ownerMarker(TEST_IDENTITY);
const TOKEN_NAME = cockpitTokenName(TEST_IDENTITY);
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
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
    await configure();
});

async function configure(extra: Record<string, string> = {}): Promise<void> {
    const values: Record<string, string> = {
        forgeUrl: fake.url,
        forgeToken: fake.adminToken,
        forgeRetryBaseMs: "1",
        forgeTimeoutMs: "1000",
        ...extra,
    };
    await provider.configure!({ config: providerConfig(values) });
}

function inputs(username: string, over: Partial<ForgeAccountInputs> = {}): ForgeAccountInputs {
    return { ...accountInputs(username, FEEDBACK), ...over };
}

async function create(i: ForgeAccountInputs): Promise<ForgeAccountOutputs> {
    const res = await provider.create!(i);
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

describe("create", () => {
    it("creates a missing user marked as ours, mints a narrow token with Basic auth, and grants feedback access", async () => {
        const outs = await create(inputs("alice"));
        const u = fake.user("alice")!;
        expect(u.description).toContain(FORGE_MARKER);
        expect(u.must_change_password).toBe(false);
        expect(u.password).toBe("generated-alice-Password-42");
        expect(outs).toMatchObject({ login: "alice", userId: u.id, createdByTool: true, feedbackAccess: true });
        const [tok] = fake.tokensOf("alice");
        expect(fake.tokensOf("alice")).toHaveLength(1);
        expect(tok).toMatchObject({ id: outs.tokenId, name: TOKEN_NAME, sha1: outs.token, scopes: TOKEN_SCOPES });
        expect(fake.requests.filter((r) => r.method === "POST" && r.path === "/users/alice/tokens").map((r) => r.auth)).toEqual(["basic"]);
        expect(fake.collaborators(FEEDBACK).alice).toBe("read");
        expect(JSON.stringify(outs)).not.toContain(fake.adminToken);
    });

    it("regression: a create repeated after a crash before Pulumi wrote state adopts its own account, with no duplicate user or token", async () => {
        const first = await create(inputs("bob")); // the outs are "lost": Pulumi never recorded them
        const posts = fake.count("POST", "/admin/users");
        const second = await create(inputs("bob"));
        expect(fake.count("POST", "/admin/users")).toBe(posts);
        expect(second).toMatchObject({ userId: first.userId, createdByTool: true });
        expect(fake.tokensOf("bob").map((t) => t.id)).toEqual([second.tokenId]);
        expect(second.tokenId).not.toBe(first.tokenId);
    });

    it("regression: a create that crashed after POST but before marking is recognised by the generated password and marked", async () => {
        fake.inject("PATCH", "/admin/users/carol", { kind: "status", status: 500 }, 50);
        await rejection(provider.create!(inputs("carol")));
        expect(fake.user("carol")?.description).toBe("");
        fake.clearFaults();
        const outs = await create(inputs("carol"));
        expect(outs.createdByTool).toBe(true);
        expect(fake.user("carol")?.description).toContain(FORGE_MARKER);
        expect([...fake.users.values()].filter((u) => u.login === "carol")).toHaveLength(1);
    });

    it("a lost POST answer (connection reset after Forge made the user) is looked up, not blindly repeated", async () => {
        fake.inject("POST", "/admin/users", { kind: "reset", when: "after" });
        const before = fake.count("POST", "/admin/users");
        const outs = await create(inputs("dave"));
        expect(fake.count("POST", "/admin/users") - before).toBe(1);
        expect(outs.createdByTool).toBe(true);
    });

    it("a lost token answer leaves a token we cannot read: it is deleted by name and minted again", async () => {
        fake.inject("POST", "/users/erin/tokens", { kind: "reset", when: "after" });
        const outs = await create(inputs("erin"));
        expect(fake.tokensOf("erin").map((t) => t.id)).toEqual([outs.tokenId]);
        expect(fake.tokensOf("erin")[0].sha1).toBe(outs.token);
    });

    it("converges through 500s, 429s and a slow answer", async () => {
        fake.inject("GET", "/users/frank", { kind: "status", status: 500 }, 2);
        fake.inject("POST", "/admin/users", { kind: "status", status: 503 }, 1);
        fake.inject("PUT", /\/collaborators\/frank$/, { kind: "status", status: 429, retryAfterSeconds: 0 }, 1);
        fake.inject("GET", "/users/frank/tokens", { kind: "slow", ms: 1500 }, 1);
        const outs = await create(inputs("frank"));
        expect(outs).toMatchObject({ createdByTool: true, feedbackAccess: true });
        expect(fake.tokensOf("frank")).toHaveLength(1);
    });

    it("fails with a clear message when Forge keeps failing", async () => {
        fake.inject("GET", "/users/gina", { kind: "status", status: 502 }, 50);
        const err = await rejection(provider.create!(inputs("gina")));
        expect(err.message).toBe(
            `Forge at ${fake.url} is unreachable or failing; check forgeUrl and that Forge is up, then run pulumi up again: it resumes where it stopped ` +
                "(Forge GET /users/{username} answered 502: injected 502 (gave up after 4 attempts))",
        );
        expect(fake.user("gina")).toBeUndefined();
    });

    it("turns Forgejo's 422, 400 and 403 into messages an admin can act on", async () => {
        fake.addUser({ login: "someone", email: "shared@demo.test" });
        const email = await rejection(provider.create!(inputs("hank", { email: "shared@demo.test" })));
        expect(email.message).toMatch(/^email "shared@demo.test" of "hank" is already used by another Forge account; .*\(Forge POST \/admin\/users answered 422: e-mail already in use/);
        const weak = await rejection(provider.create!(inputs("hank", { password: "password1234" })));
        expect(weak.message).toMatch(/^password rejected by Forge policy: PasswordPwned; /);
        const reserved = await rejection(provider.create!(inputs("admin")));
        expect(reserved.message).toMatch(/^username "admin" is not allowed by Forge; /);
        await configure({ forgeToken: "not-an-admin-token" });
        const denied = await rejection(provider.create!(inputs("hank")));
        expect(denied.message).toMatch(/^Forge refused the token in config hero-os-grid-deployer:forgeToken/);
        expect(denied.message).not.toContain("not-an-admin-token");
        await configure();
        fake.addUser({ login: "plainuser", email: "plain@team.test", password: "plain-password-1" });
        const plainToken = (await provider.create!(inputs("plainuser", { password: "plain-password-1" }))).outs!.token;
        await configure({ forgeToken: plainToken });
        const notAdmin = await rejection(provider.create!(inputs("hank")));
        expect(notAdmin.message).toMatch(/^the Forge token in config hero-os-grid-deployer:forgeToken is not allowed to do this; it must belong to a site administrator \(Forge POST \/admin\/users answered 403/);
        expect(fake.user("hank")).toBeUndefined();
    });

    it("says which repo is missing when the feedback repo does not exist", async () => {
        const err = await rejection(provider.create!(inputs("ivan", { feedbackRepo: "lhumina_public/nope" })));
        expect(err.message).toMatch(/^feedback repo "lhumina_public\/nope" was not found on Forge; /);
    });

    it("refuses a plain-http Forge that is not loopback", async () => {
        await configure({ forgeUrl: "http://forge.example.invalid" });
        const err = await rejection(provider.create!(inputs("judy")));
        expect(err.message).toMatch(/must use https/);
    });
});

describe("an adopted account", () => {
    it("is adopted as is: no password change, no token, a note saying the user brings their own, feedback access granted", async () => {
        const u = fake.addUser({ login: "kate", email: "Kate@Demo.test", full_name: "Kate", password: "kates-own-password" }); // the users file's email, spelt otherwise
        const outs = await create(inputs("kate"));
        expect(outs).toMatchObject({ createdByTool: false, token: "", tokenId: 0, userId: u.id, feedbackAccess: true });
        expect(outs.tokenNote).toMatch(/did not create.*brings their own Forge token through the cockpit setting/);
        expect(fake.user("kate")).toMatchObject({ password: "kates-own-password", email: "Kate@Demo.test", description: "" });
        expect(fake.tokensOf("kate")).toHaveLength(0);
    });

    it("is never patched nor deleted, even with purgeAccountsOnTeardown", async () => {
        fake.addUser({ login: "liam", email: "liam@demo.test", password: "liams-own-password" });
        const outs = await create(inputs("liam"));
        const d = diffForgeAccount(outs, inputs("liam", { email: "other@demo.test", password: "rotated-Password-99" }));
        expect(d.changes).toBe(false);
        await configure({ purgeAccountsOnTeardown: "true" });
        await provider.delete!("liam", outs);
        expect(fake.user("liam")).toMatchObject({ password: "liams-own-password", email: "liam@demo.test" });
        expect(fake.count("DELETE", "/admin/users/liam")).toBe(0);
    });

    it("does not downgrade an existing higher permission on the feedback repo", async () => {
        fake.addUser({ login: "mia", email: "mia@demo.test" });
        fake.repos.get(FEEDBACK)!.collaborators.set("mia", "write");
        await create(inputs("mia"));
        expect(fake.collaborators(FEEDBACK).mia).toBe("write");
    });
});

describe("update", () => {
    it("patches email and full name in place, and rotates the password with PATCH keeping the token", async () => {
        const olds = await create(inputs("nina"));
        const news = inputs("nina", { email: "nina@new.test", fullName: "Nina N", password: "rotated-nina-Password-7" });
        expect(diffForgeAccount(olds, news)).toMatchObject({ changes: true, replaces: [], changed: ["email", "fullName", "password"] });
        const { outs } = (await provider.update!("nina", olds, news)) as { outs: ForgeAccountOutputs };
        expect(fake.user("nina")).toMatchObject({ email: "nina@new.test", full_name: "Nina N", password: "rotated-nina-Password-7" });
        expect(outs).toMatchObject({ email: "nina@new.test", tokenId: olds.tokenId, token: olds.token, createdByTool: true });
        // The rotated password is what later token calls use.
        await configure({ purgeAccountsOnTeardown: "false" });
        await provider.delete!("nina", outs);
        expect(fake.tokensOf("nina")).toHaveLength(0);
    });

    it("a rotation refused by the password policy says so", async () => {
        const olds = await create(inputs("omar"));
        const err = await rejection(provider.update!("omar", olds, inputs("omar", { password: "short" })));
        expect(err.message).toMatch(/^password rejected by Forge policy: password must be at least 8 characters/);
    });

    it("a changed username replaces the account, deleting first", () => {
        const d = diffForgeAccount({ ...inputs("pat"), createdByTool: true, tokenId: 5, feedbackAccess: true }, inputs("patricia"));
        expect(d).toMatchObject({ changes: true, replaces: ["username"], deleteBeforeReplace: true });
    });

    it("a new feedback repo is granted", async () => {
        fake.addRepo("lhumina_public/feedback2");
        const olds = await create(inputs("quinn"));
        const news = inputs("quinn", { feedbackRepo: "lhumina_public/feedback2" });
        expect(diffForgeAccount(olds, news).changed).toEqual(["feedbackRepo"]);
        await provider.update!("quinn", olds, news);
        expect(fake.collaborators("lhumina_public/feedback2").quinn).toBe("read");
    });
});

describe("read (refresh)", () => {
    it("notices an account deleted outside the tool", async () => {
        const outs = await create(inputs("rosa"));
        fake.users.delete("rosa");
        expect((await provider.read!("rosa", outs)).id).toBe("");
    });

    it("notices an account deleted and re-created by someone else under the same name", async () => {
        const outs = await create(inputs("sam"));
        fake.users.delete("sam");
        fake.addUser({ login: "sam", email: "someone-else@team.test" });
        expect((await provider.read!("sam", outs)).id).toBe("");
    });

    it("a revoked token and lost feedback access are repaired by the next update; the user's own full name is kept", async () => {
        const outs = await create(inputs("tess"));
        fake.user("tess")!.full_name = "Changed Outside";
        fake.tokens.splice(fake.tokens.findIndex((t) => t.id === outs.tokenId), 1);
        fake.repos.get(FEEDBACK)!.collaborators.delete("tess");
        const read = (await provider.read!("tess", outs)).props as ForgeAccountOutputs;
        expect(read).toMatchObject({ fullName: "Demo tess", token: "", tokenId: 0, feedbackAccess: false });
        const d = diffForgeAccount(read, inputs("tess"));
        expect(d.changed).toEqual(["token", "feedbackAccess"]);
        const { outs: healed } = (await provider.update!("tess", read, inputs("tess"))) as { outs: ForgeAccountOutputs };
        expect(healed.tokenId).toBeGreaterThan(0);
        expect(fake.tokensOf("tess").map((t) => t.id)).toEqual([healed.tokenId]);
        expect(fake.user("tess")!.full_name).toBe("Changed Outside");
        expect(fake.collaborators(FEEDBACK).tess).toBe("read");
    });
});

describe("delete", () => {
    it("by default revokes the token and keeps the account (Forge is the team's identity system)", async () => {
        const outs = await create(inputs("uma"));
        await provider.delete!("uma", outs);
        expect(fake.user("uma")).toBeDefined();
        expect(fake.tokensOf("uma")).toHaveLength(0);
    });

    it("purges an account the tool created when the config says so; an account already gone counts as done", async () => {
        const outs = await create(inputs("vic"));
        await configure({ purgeAccountsOnTeardown: "true" });
        await provider.delete!("vic", outs);
        expect(fake.user("vic")).toBeUndefined();
        expect(fake.requests.filter((r) => r.method === "DELETE" && r.path === "/admin/users/vic")).toHaveLength(1);
        await provider.delete!("vic", outs);
    });

    it("never deletes an account that now belongs to someone else under the same name", async () => {
        const outs = await create(inputs("walt"));
        fake.users.delete("walt");
        const other = fake.addUser({ login: "walt", email: "walt@team.test" });
        await configure({ purgeAccountsOnTeardown: "true" });
        await provider.delete!("walt", outs);
        expect(fake.user("walt")?.id).toBe(other.id);
    });

    it("says what to do when the user changed the password and the token cannot be revoked", async () => {
        const outs = await create(inputs("xena"));
        fake.user("xena")!.password = "changed-by-xena";
        const err = await rejection(provider.delete!("xena", outs));
        expect(err.message).toMatch(/^cannot revoke Forge token \d+ of "xena": Forge refused the password/);
        expect(err.message).not.toContain("generated-xena");
    });
});

describe("ownership across stacks sharing one Forge", () => {
    /** The account as the other stack left it: its marker, its password, its token. */
    function othersAccount(login: string) {
        const u = fake.addUser({ login, email: `${login}@demo.test`, password: "the-other-stacks-password", description: `Hero OS demo account ${ownerMarker(OTHER_IDENTITY)}` });
        fake.tokens.push({ id: 9000 + u.id, userId: u.id, name: cockpitTokenName(OTHER_IDENTITY), sha1: `other-${login}-token-text-000000000000000`, scopes: ["read:user"] });
        return u;
    }

    it("regression: an account marked by another stack is adopted read-only: password, description and tokens untouched, and the output names that stack", async () => {
        const before = othersAccount("oscar");
        const writes = fake.requests.filter((r) => r.method !== "GET").length;
        const outs = await create(inputs("oscar"));
        expect(outs).toMatchObject({ createdByTool: false, token: "", tokenId: 0, managedBy: `oscar is managed by stack ${OTHER_IDENTITY.stack} (${OTHER_IDENTITY.id})` });
        const u = fake.user("oscar")!;
        expect(u).toMatchObject({ password: "the-other-stacks-password", description: before.description });
        expect(fake.tokensOf("oscar").map((t) => t.name)).toEqual([cockpitTokenName(OTHER_IDENTITY)]);
        // Only the feedback grant wrote anything (a collaborator PUT), nothing on the user or its tokens.
        const written = fake.requests.filter((r) => r.method !== "GET").slice(writes).map((r) => `${r.method} ${r.path}`);
        expect(written.filter((w) => !w.startsWith("PUT /repos/"))).toEqual([]);
    });

    it("regression: destroying with purge on never deletes another stack's account, nor revokes its token", async () => {
        othersAccount("olga");
        const outs = await create(inputs("olga"));
        await configure({ purgeAccountsOnTeardown: "true" });
        await provider.delete!("olga", outs);
        expect(fake.user("olga")).toBeDefined();
        expect(fake.tokensOf("olga")).toHaveLength(1);
        expect(fake.count("DELETE", /^\/admin\/users\/olga/)).toBe(0);
    });

    it("an account with the stack-less marker of older releases is adopted read-only too: which stack cannot be told", async () => {
        fake.addUser({ login: "lena", email: "lena@demo.test", password: "set-by-some-old-release", description: `Hero OS demo account ${LEGACY_MARKER}` });
        const outs = await create(inputs("lena"));
        expect(outs.createdByTool).toBe(false);
        expect(outs.managedBy).toMatch(/before stack identities; which stack cannot be told/);
        expect(fake.user("lena")!.password).toBe("set-by-some-old-release");
    });

    it("two stacks' tokens on one account of ours coexist: a retried mint deletes only this stack's leftover", async () => {
        const first = await create(inputs("tess"));
        const u = fake.user("tess")!;
        fake.tokens.push({ id: 9999, userId: u.id, name: LEGACY_TOKEN_NAME, sha1: "legacy-token-text-00000000000000000000000", scopes: ["read:user"] });
        const again = await create(inputs("tess")); // a create repeated after a crash
        expect(fake.tokensOf("tess").map((t) => t.name).sort()).toEqual([LEGACY_TOKEN_NAME, cockpitTokenName(TEST_IDENTITY)].sort());
        expect(again.tokenId).not.toBe(first.tokenId);
    });

    it("regression: state written before stack identities stays this stack's: the next update re-marks the account and keeps its token", async () => {
        const outs = await create(inputs("rita"));
        const legacy: ForgeAccountOutputs = { ...outs } as ForgeAccountOutputs;
        delete (legacy as Partial<ForgeAccountOutputs>).stack;
        delete (legacy as Partial<ForgeAccountOutputs>).stackId;
        delete (legacy as Partial<ForgeAccountOutputs>).managedBy;
        fake.user("rita")!.description = `Hero OS demo account ${LEGACY_MARKER}`;
        expect(diffForgeAccount(legacy, inputs("rita"))).toMatchObject({ changes: true, replaces: [], changed: ["stackId"] });
        const updated = (await provider.update!("rita", legacy, inputs("rita"))).outs as ForgeAccountOutputs;
        expect(fake.user("rita")!.description).toBe(`Hero OS demo account ${ownerMarker(TEST_IDENTITY)}`);
        expect(updated).toMatchObject({ createdByTool: true, tokenId: outs.tokenId, token: outs.token, stackId: TEST_IDENTITY.id, managedBy: "" });
        expect(fake.tokensOf("rita").map((t) => t.id)).toEqual([outs.tokenId]);
        // And an old record of an account still carrying the legacy marker is still purged by its own stack.
        fake.user("rita")!.description = `Hero OS demo account ${LEGACY_MARKER}`;
        await configure({ purgeAccountsOnTeardown: "true" });
        await provider.delete!("rita", legacy);
        expect(fake.user("rita")).toBeUndefined();
    });

    it("an account our state records, marked by another stack since, is kept on delete with a note", async () => {
        const outs = await create(inputs("nina"));
        fake.user("nina")!.description = `Hero OS demo account ${ownerMarker(OTHER_IDENTITY)}`;
        await configure({ purgeAccountsOnTeardown: "true" });
        await provider.delete!("nina", outs);
        expect(fake.user("nina")).toBeDefined();
    });
});

describe("check and diff stay offline", () => {
    it("make no request, and accept values unknown during preview", async () => {
        const before = fake.requests.length;
        const pending = { ...inputs("yara"), password: UNKNOWN };
        expect((await provider.check!({} as ForgeAccountInputs, pending)).failures).toEqual([]);
        const olds = { ...inputs("yara"), login: "yara", userId: 1, createdByTool: true, token: "t", tokenId: 1, tokenNote: "", feedbackAccess: true, managedBy: "" };
        expect(await provider.diff!("yara", olds, pending)).toMatchObject({ changes: true, replaces: [] });
        expect(await provider.diff!("yara", olds, inputs("yara"))).toMatchObject({ changes: false, replaces: [] });
        expect(fake.requests.length).toBe(before);
    });

    it("check names each bad input", () => {
        const res = checkForgeAccount({ username: "-bad", email: "nope", fullName: "x".repeat(101), password: "", feedbackRepo: "feedback" });
        expect(res.failures!.map((f) => f.property)).toEqual(["username", "email", "fullName", "password", "feedbackRepo", "stack", "stackId"]);
        expect(checkForgeAccount({ ...inputs("  zed "), password: "p" }).inputs!.username).toBe("zed");
    });
});
