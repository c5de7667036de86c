/**
 * The ForgeAccount provider as `pulumi up` runs it: serialized under ts-node
 * (CommonJS) in a child process, then run by Pulumi's own dynamic-provider host
 * over gRPC (Configure, Check, Diff, Create, Read, Update, Delete) against the
 * fake Forgejo. The admin token must appear in no property the host returns
 * and not in `__provider`.
 */
import { accountInputs } from "./support/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamicHost, serializeProvider } from "./support/dynamic-host";
import { FakeForgejo } from "./fakes/forgejo";

const FEEDBACK = "lhumina_public/feedback";
let fake: FakeForgejo;
let provider: string;
let host: DynamicHost;
let purgingHost: DynamicHost;
/** Everything the hosts returned, to search for the admin token at the end. */
const returned: unknown[] = [];

const inputs = (username: string, over: Record<string, string> = {}) => accountInputs(username, FEEDBACK, over);

function keep<T>(v: T): T {
    returned.push(v);
    return v;
}

beforeAll(async () => {
    fake = await FakeForgejo.start();
    fake.addRepo(FEEDBACK);
    provider = await serializeProvider("providers/shims.ts", "SHIMS.forgeAccount");
    const config = { forgeUrl: fake.url, forgeToken: fake.adminToken, forgeRetryBaseMs: "1" };
    [host, purgingHost] = await Promise.all([
        DynamicHost.start(provider, { ...config, purgeAccountsOnTeardown: "false" }),
        DynamicHost.start(provider, { ...config, purgeAccountsOnTeardown: "true" }),
    ]);
});

afterAll(async () => {
    await Promise.all([host?.stop(), purgingHost?.stop()]);
    await fake?.stop();
});

describe("the serialized provider", () => {
    it("carries no credential and stays small", () => {
        expect(provider).not.toContain(fake.adminToken);
        expect(provider).toContain("exports.handler");
        expect(provider.match(/require\("[^"]+"\)/g)).toEqual(['require("hero-os-grid-deployer-shims/v1/forge-account.js")']);
        expect(Buffer.byteLength(provider)).toBeLessThan(2048);
    });
});

describe("in Pulumi's dynamic-provider host", () => {
    it("runs Check, Create, Diff, Read, Update and Delete, keeping the account by default", async () => {
        const checked = keep(await host.check({}, inputs("alice")));
        expect(checked.failures).toEqual([]);
        const bad = keep(await host.check({}, inputs("-alice")));
        expect(bad.failures.map((f) => f.property)).toEqual(["username"]);

        const { __provider: _p, ...news } = checked.inputs;
        const created = keep(await host.create(news));
        expect(created.id).toBe("alice");
        expect(created.outs).toMatchObject({ login: "alice", createdByTool: true, feedbackAccess: true, __provider: provider });
        expect(created.outs.token).toBe(fake.tokensOf("alice")[0].sha1);

        expect(keep(await host.diff("alice", created.outs, news))).toEqual({ changes: "none", replaces: [], deleteBeforeReplace: false });
        const moved = { ...news, email: "alice@new.test" };
        expect(keep(await host.diff("alice", created.outs, moved))).toEqual({ changes: "some", replaces: [], deleteBeforeReplace: false });
        expect(keep(await host.diff("alice", created.outs, inputs("alicia")))).toEqual({ changes: "some", replaces: ["username"], deleteBeforeReplace: true });

        const read = keep(await host.read("alice", created.outs));
        expect(read.id).toBe("alice");
        expect(read.outs).toMatchObject({ userId: created.outs.userId, tokenId: created.outs.tokenId });

        const updated = keep(await host.update("alice", read.outs, moved));
        expect(updated.outs).toMatchObject({ email: "alice@new.test", tokenId: created.outs.tokenId });
        expect(fake.user("alice")?.email).toBe("alice@new.test");

        await host.delete("alice", updated.outs);
        expect(fake.user("alice")).toBeDefined();
        expect(fake.tokensOf("alice")).toHaveLength(0);
    });

    it("purges on delete when the stack config says so, and a refresh then finds it gone", async () => {
        const created = keep(await purgingHost.create(inputs("bob")));
        await purgingHost.delete("bob", created.outs);
        expect(fake.user("bob")).toBeUndefined();
        const read = keep(await purgingHost.read("bob", created.outs));
        expect(read.id).toBe("");
        await purgingHost.delete("bob", created.outs); // already gone: done
    });

    it("adopts an account it did not create and never deletes it", async () => {
        fake.addUser({ login: "carol", email: "carol@demo.test", password: "carols-own-password" });
        const created = keep(await purgingHost.create(inputs("carol")));
        expect(created.outs).toMatchObject({ createdByTool: false, token: "", tokenId: 0 });
        await purgingHost.delete("carol", created.outs);
        expect(fake.user("carol")?.password).toBe("carols-own-password");
    });

    it("regression: a ForgeError thrown in the host keeps its actionable message through gRPC (the v0 serializer dropped what super() set)", async () => {
        fake.addUser({ login: "someone", email: "taken@demo.test" });
        const err = (await host.create(inputs("dave", { email: "taken@demo.test" })).catch((e: Error) => e)) as Error;
        expect(err.message).toContain('email "taken@demo.test" of "dave" is already used by another Forge account');
        returned.push(err.message);
    });

    it("a failing Delete reports what to do, and leaks neither the admin token nor the password into the host's log", async () => {
        const created = keep(await host.create(inputs("erin")));
        fake.user("erin")!.password = "changed-by-erin";
        const err = (await host.delete("erin", created.outs).catch((e: Error) => e)) as Error;
        expect(err.message).toMatch(/cannot revoke Forge token \d+ of "erin"/);
        expect(host.stderr()).toContain("cannot revoke Forge token");
        expect(host.stderr()).not.toContain("generated-erin-Password-42");
        returned.push(err.message);
    });

    it("the admin token is absent from every property returned, from __provider and from the host's log", () => {
        expect(returned.length).toBeGreaterThan(10);
        const all = JSON.stringify(returned);
        expect(all).not.toContain(fake.adminToken);
        expect(host.stderr()).not.toContain(fake.adminToken);
        expect(purgingHost.stderr()).not.toContain(fake.adminToken);
    });
});
