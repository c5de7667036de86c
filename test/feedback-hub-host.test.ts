/**
 * The FeedbackHub provider as `pulumi up` runs it: serialized under ts-node
 * (CommonJS) in a child process, then run by Pulumi's own dynamic-provider host
 * over gRPC against the fake Forgejo. The admin token must appear in no property
 * the host returns, not in `__provider`, and not in the host's log.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEMPLATES } from "../providers/forge/feedback-hub";
import { DynamicHost, serializeProvider } from "./support/dynamic-host";
import { FakeForgejo } from "./fakes/forgejo";
import { TEST_IDENTITY } from "./support/fixtures";

const PATHS = Object.keys(TEMPLATES);
const ME = { stack: TEST_IDENTITY.stack, stackId: TEST_IDENTITY.id };
let fake: FakeForgejo;
let provider: string;
let host: DynamicHost;
let purgingHost: DynamicHost;
const returned: unknown[] = [];

/** Waits for a line in a host's log: it travels on another pipe than the gRPC answer. vitest's timeout bounds the wait. */
async function logged(h: DynamicHost, text: string): Promise<void> {
    while (!h.stderr().includes(text)) {
        await new Promise((r) => setTimeout(r, 10));
    }
    expect(h.stderr()).toContain(text);
}

function keep<T>(v: T): T {
    returned.push(v);
    return v;
}

beforeAll(async () => {
    fake = await FakeForgejo.start();
    provider = await serializeProvider("providers/shims.ts", "SHIMS.feedbackHub");
    const config = { forgeUrl: fake.url, forgeToken: fake.adminToken, forgeRetryBaseMs: "1" };
    [host, purgingHost] = await Promise.all([
        DynamicHost.start(provider, config),
        DynamicHost.start(provider, { ...config, purgeFeedbackHubOnTeardown: "true" }),
    ]);
});

afterAll(async () => {
    await Promise.all([host?.stop(), purgingHost?.stop()]);
    await fake?.stop();
});

describe("the serialized provider", () => {
    it("carries no credential and is a reference to the versioned shim", () => {
        expect(provider).not.toContain(fake.adminToken);
        expect(provider).toContain("exports.handler");
        expect(provider.match(/require\("[^"]+"\)/g)).toEqual(['require("hero-os-grid-deployer-shims/v1/feedback-hub.js")']);
        expect(Buffer.byteLength(provider)).toBeLessThan(2048);
    });
});

describe("in Pulumi's dynamic-provider host", () => {
    it("runs Check, Create, Diff, Read, Update and Delete, keeping the hub on teardown by default", async () => {
        const checked = keep(await host.check({}, { repo: " hosted/feedback ", ...ME }));
        expect(checked.failures).toEqual([]);
        expect(keep(await host.check({}, { repo: "not a repo", ...ME })).failures.map((f) => f.property)).toEqual(["repo"]);
        const { __provider: _p, ...news } = checked.inputs;
        expect(news).toEqual({ repo: "hosted/feedback", ...ME });

        const created = keep(await host.create(news));
        expect(created.id).toBe("hosted/feedback");
        expect(created.outs).toMatchObject({ orgCreatedByTool: true, repoCreatedByTool: true, templates: PATHS, repoUrl: `${fake.url}/hosted/feedback`, __provider: provider });

        expect(keep(await host.diff(created.id, created.outs, news))).toEqual({ changes: "none", replaces: [], deleteBeforeReplace: false });
        expect(keep(await host.diff(created.id, created.outs, { repo: "hosted/other", ...ME }))).toEqual({ changes: "some", replaces: ["repo"], deleteBeforeReplace: false });

        fake.repo("hosted/feedback")!.files.delete(PATHS[2]);
        const read = keep(await host.read(created.id, created.outs));
        expect(read.outs.templates).toEqual(PATHS.slice(0, 2));
        expect(keep(await host.diff(created.id, read.outs, news)).changes).toBe("some");
        const updated = keep(await host.update(created.id, read.outs, news));
        expect(updated.outs.templates).toEqual(PATHS);

        await host.delete(created.id, updated.outs);
        expect(fake.repo("hosted/feedback")).toBeDefined();
        await logged(host, "keeping hosted/feedback and its organization on the Forge (purgeFeedbackHubOnTeardown is not true)");
    });

    it("with purgeFeedbackHubOnTeardown, deletes what it created; a refresh then finds it gone; deleting again is done", async () => {
        const created = keep(await purgingHost.create({ repo: "gone/feedback", ...ME }));
        await purgingHost.delete(created.id, created.outs);
        expect(fake.repo("gone/feedback")).toBeUndefined();
        expect(fake.org("gone")).toBeUndefined();
        expect(keep(await purgingHost.read(created.id, created.outs)).id).toBe("");
        await purgingHost.delete(created.id, created.outs);
    });

    it("adopts an existing org and repo, and keeps them even with purge on", async () => {
        fake.addOrg("theirs");
        fake.addRepo("theirs/feedback", { files: { [PATHS[0]]: "their own bug form" } });
        const created = keep(await purgingHost.create({ repo: "theirs/feedback", ...ME }));
        expect(created.outs).toMatchObject({ orgCreatedByTool: false, repoCreatedByTool: false, customizedTemplates: [PATHS[0]] });
        await purgingHost.delete(created.id, created.outs);
        expect(fake.repo("theirs/feedback")).toBeDefined();
        expect(fake.file("theirs/feedback", PATHS[0])).toBe("their own bug form");
    });

    it("regression: an error thrown in the host keeps its actionable message through gRPC (the v0 serializer dropped what super() set)", async () => {
        fake.addUser({ login: "someuser", email: "someuser@x.test" });
        const err = (await host.create({ repo: "someuser/feedback", ...ME }).catch((e: Error) => e)) as Error;
        expect(err.message).toContain('"someuser" is a Forge user account, not an organization');
        returned.push(err.message);
    });

    it("the admin token is absent from every property returned, from __provider and from the hosts' logs", () => {
        expect(returned.length).toBeGreaterThan(10);
        const all = JSON.stringify(returned);
        expect(all).toContain("__provider");
        expect(all).not.toContain(fake.adminToken);
        expect(host.stderr()).not.toContain(fake.adminToken);
        expect(purgingHost.stderr()).not.toContain(fake.adminToken);
    });
});
