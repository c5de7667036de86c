/**
 * The FeedbackHub provider's lifecycle, in-process, against the fake Forgejo:
 * create from nothing, adoption of what exists, idempotent creates after a crash
 * or a lost answer, and a teardown that deletes only what the tool created and
 * only when config says so. (test/feedback-hub-host.test.ts runs it serialized,
 * in Pulumi's own host.)
 */
import { providerConfig, TEST_IDENTITY } from "./support/fixtures";
import { LEGACY_MARKER } from "../providers/ownership";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
    DEFAULT_FEEDBACK_REPO,
    FeedbackHubOutputs,
    orgDescription,
    repoDescription,
    TEMPLATES,
    checkFeedbackHub,
    diffFeedbackHub,
    feedbackHubProvider as provider,
} from "../providers/forge/feedback-hub";
import { FakeForgejo } from "./fakes/forgejo";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const PATHS = Object.keys(TEMPLATES);
const ORG_DESCRIPTION = orgDescription(TEST_IDENTITY);
const REPO_DESCRIPTION = repoDescription(TEST_IDENTITY);
const ME = { stack: TEST_IDENTITY.stack, stackId: TEST_IDENTITY.id };
let fake: FakeForgejo;

beforeAll(async () => {
    fake = await FakeForgejo.start();
});
afterAll(async () => {
    await fake.stop();
});
beforeEach(async () => {
    fake.clearFaults();
    await configure();
});

async function configure(extra: Record<string, string> = {}): Promise<void> {
    const values: Record<string, string> = { forgeUrl: fake.url, forgeToken: fake.adminToken, forgeRetryBaseMs: "1", forgeTimeoutMs: "1000", ...extra };
    await provider.configure!({ config: providerConfig(values) });
}

async function create(repo: string): Promise<FeedbackHubOutputs> {
    const res = await provider.create!({ repo, ...ME });
    expect(res.id).toBe(res.outs!.fullName);
    return res.outs as FeedbackHubOutputs;
}

/** The requests made since `mark`, as "METHOD path" lines. */
function since(mark: number): string[] {
    return fake.requests.slice(mark).map((r) => `${r.method} ${r.path}`);
}

function posts(full: string): number {
    return fake.count("POST", new RegExp(`^/repos/${full}/contents/`));
}

describe("check and diff, offline", () => {
    it("defaults the repo, trims it, refuses what Forge would refuse, and lets a preview's unknown through", () => {
        expect(checkFeedbackHub(ME)).toEqual({ inputs: { repo: DEFAULT_FEEDBACK_REPO, ...ME }, failures: [] });
        expect(checkFeedbackHub({ repo: " org/feedback ", ...ME }).inputs?.repo).toBe("org/feedback");
        expect(checkFeedbackHub({ repo: "org/feedback" }).failures?.map((f) => f.property)).toEqual(["stack", "stackId"]);
        for (const bad of ["feedback", "org/", "-org/x", "org/x.git", "a/b/c", "org__x/y"]) {
            expect(checkFeedbackHub({ repo: bad, ...ME }).failures?.map((f) => f.property), bad).toEqual(["repo"]);
        }
        expect(checkFeedbackHub({ repo: UNKNOWN, ...ME }).failures).toEqual([]);
    });

    it("replaces on another repo (old one first kept or purged), adds missing templates in place, else nothing", () => {
        const olds = { repo: "org/feedback", templates: PATHS } as FeedbackHubOutputs;
        expect(diffFeedbackHub(olds, { repo: "org/feedback" })).toMatchObject({ changes: false, replaces: [] });
        expect(diffFeedbackHub(olds, { repo: "ORG/Feedback" })).toMatchObject({ changes: false });
        expect(diffFeedbackHub(olds, { repo: "org/other" })).toMatchObject({ changes: true, replaces: ["repo"], deleteBeforeReplace: false });
        expect(diffFeedbackHub(olds, { repo: UNKNOWN })).toMatchObject({ changes: true, replaces: ["repo"] });
        expect(diffFeedbackHub({ ...olds, templates: PATHS.slice(1) }, { repo: "org/feedback" })).toMatchObject({ changes: true, replaces: [], changed: ["templates"] });
    });

    it("makes no network call in check or diff", async () => {
        const before = fake.requests.length;
        await provider.check!({} as never, { repo: "nets/feedback", ...ME });
        await provider.diff!("nets/feedback", { repo: "nets/feedback", templates: [] } as never, { repo: "nets/other", ...ME });
        expect(fake.requests.length).toBe(before);
    });
});

describe("create", () => {
    it("creates a public org and public repo with the three issue templates, and says it created them", async () => {
        const outs = await create("fresh/feedback");
        expect(outs).toEqual({
            repo: "fresh/feedback",
            ...ME,
            org: "fresh",
            ownerKind: "organization",
            orgId: fake.org("fresh")!.id,
            fullName: "fresh/feedback",
            repoId: fake.repo("fresh/feedback")!.id,
            repoUrl: `${fake.url}/fresh/feedback`,
            private: false,
            orgCreatedByTool: true,
            repoCreatedByTool: true,
            templates: PATHS,
            customizedTemplates: [],
        });
        expect(fake.org("fresh")).toMatchObject({ visibility: "public", description: ORG_DESCRIPTION });
        expect(fake.repo("fresh/feedback")).toMatchObject({ private: false, description: REPO_DESCRIPTION, empty: false });
        expect(PATHS).toEqual([".forgejo/issue_template/bug.md", ".forgejo/issue_template/feature.md", ".forgejo/issue_template/feedback.md"]);
        for (const [p, kind] of [[PATHS[0], "bug"], [PATHS[1], "feature"], [PATHS[2], "feedback"]]) {
            const text = fake.file("fresh/feedback", p)!;
            expect(text).toBe(TEMPLATES[p]);
            // Forgejo's Markdown template: YAML front matter with name, about and labels.
            expect(text).toMatch(new RegExp(`^---\\nname: .+\\nabout: .+\\ntitle: .+\\nlabels:\\n  - ${kind}\\n---\\n`));
        }
    });

    it("adopts an existing org it did not create, and creates the repo in it", async () => {
        fake.addOrg("team", { description: "the team's own org" });
        const mark = fake.requests.length;
        const outs = await create("team/feedback");
        expect(outs).toMatchObject({ orgCreatedByTool: false, repoCreatedByTool: true, templates: PATHS });
        expect(fake.org("team")!.description).toBe("the team's own org");
        expect(since(mark).filter((r) => r.startsWith("POST /orgs"))).toEqual(["POST /orgs/team/repos"]);
    });

    it("adopts an existing repo (and its org) as is, adding only the missing templates", async () => {
        fake.addOrg("lhumina_public");
        fake.addRepo("lhumina_public/feedback", { description: "real feedback", files: { "README.md": "hi" } });
        const mark = fake.requests.length;
        const outs = await create(DEFAULT_FEEDBACK_REPO);
        expect(outs).toMatchObject({ org: "lhumina_public", orgCreatedByTool: false, repoCreatedByTool: false, templates: PATHS, customizedTemplates: [] });
        expect(fake.repo(DEFAULT_FEEDBACK_REPO)!.description).toBe("real feedback");
        expect(since(mark).filter((r) => !r.startsWith("GET "))).toEqual(PATHS.map((p) => `POST /repos/lhumina_public/feedback/contents/${p}`));
    });

    it("never overwrites templates already present, reporting those that differ as customized", async () => {
        fake.addOrg("both");
        fake.addRepo("both/feedback", { files: { [PATHS[0]]: "---\nname: Our own bug form\n---\n", [PATHS[2]]: TEMPLATES[PATHS[2]].replace(/\n/g, "\r\n") } });
        const outs = await create("both/feedback");
        expect(outs).toMatchObject({ templates: PATHS, customizedTemplates: [PATHS[0]] });
        expect(fake.file("both/feedback", PATHS[0])).toBe("---\nname: Our own bug form\n---\n");
        expect(fake.count("POST", /^\/repos\/both\/feedback\/contents\//)).toBe(1); // feature.md only
        expect(fake.count("PUT", /^\/repos\/both\/feedback\/contents\//)).toBe(0);
    });

    it("adds the templates to an adopted empty repo (no commit yet)", async () => {
        fake.addOrg("emptyorg");
        fake.addRepo("emptyorg/feedback", { empty: true });
        const outs = await create("emptyorg/feedback");
        expect(outs.templates).toEqual(PATHS);
        expect(fake.repo("emptyorg/feedback")!.empty).toBe(false);
    });

    it("adopts a repo owned by a user account, recording the owner as a user", async () => {
        fake.addUser({ login: "solo", email: "solo@x.test" });
        fake.addRepo("solo/feedback");
        const outs = await create("solo/feedback");
        expect(outs).toMatchObject({ org: "solo", ownerKind: "user", orgId: 0, orgCreatedByTool: false, repoCreatedByTool: false });
    });

    it("says what to do when the owner is a user account without that repo", async () => {
        fake.addUser({ login: "person", email: "person@x.test" });
        const err = (await provider.create!({ repo: "person/feedback", ...ME }).catch((e: Error) => e)) as Error;
        expect(err.message).toMatch(/^"person" is a Forge user account, not an organization/);
        expect(err.message).toContain("hero-os-grid-deployer:feedbackRepo");
        expect(fake.repo("person/feedback")).toBeUndefined();
    });

    it("regression: after a crash between repo and templates, a retried create claims its own marked org and repo and finishes", async () => {
        fake.inject("POST", `/repos/crash/feedback/contents/${PATHS[1]}`, { kind: "status", status: 403 });
        const err = (await provider.create!({ repo: "crash/feedback", ...ME }).catch((e: Error) => e)) as Error;
        expect(err.message).toContain("must belong to a site administrator");
        expect(fake.repo("crash/feedback")!.files.has(PATHS[0])).toBe(true);
        const outs = await create("crash/feedback");
        expect(outs).toMatchObject({ orgCreatedByTool: true, repoCreatedByTool: true, templates: PATHS });
        expect(fake.count("POST", "/orgs/crash/repos")).toBe(1);
        expect(posts("crash/feedback")).toBe(4); // bug once, feature twice (refused, then made), feedback once
    });

    it("regression: answers lost after the org, repo and a template were made are settled by looking again, not by a second create", async () => {
        fake.inject("POST", "/orgs", { kind: "reset", when: "after" });
        fake.inject("POST", "/orgs/lost/repos", { kind: "reset", when: "after" });
        fake.inject("POST", `/repos/lost/feedback/contents/${PATHS[2]}`, { kind: "reset", when: "after" });
        const outs = await create("lost/feedback");
        expect(outs).toMatchObject({ orgCreatedByTool: true, repoCreatedByTool: true, templates: PATHS, customizedTemplates: [] });
        expect(fake.requests.filter((r) => r.method === "POST" && r.path === "/orgs" && r.status === -1)).toHaveLength(1);
        expect(fake.count("POST", "/orgs/lost/repos")).toBe(1);
        expect(fake.count("POST", `/repos/lost/feedback/contents/${PATHS[2]}`)).toBe(1);
    });

    it("an org someone else created between our lookup and our POST (422) is adopted, not claimed", async () => {
        fake.addOrg("racer");
        fake.inject("GET", "/orgs/racer", { kind: "status", status: 404 }); // our first lookup comes just before theirs lands
        const outs = await create("racer/feedback");
        expect(outs.orgCreatedByTool).toBe(false);
        expect(fake.requests.filter((r) => r.path === "/orgs" && r.method === "POST").at(-1)!.status).toBe(422);
    });

    it("names the token problem on a 401", async () => {
        await configure({ forgeToken: "not-the-admin-token-at-all" });
        const err = (await provider.create!({ repo: "nope/feedback", ...ME }).catch((e: Error) => e)) as Error;
        expect(err.message).toMatch(/^Forge refused the token in config hero-os-grid-deployer:forgeToken/);
        expect(err.message).not.toContain("not-the-admin-token-at-all");
    });
});

describe("read and update", () => {
    it("read reports what is there; update puts back a template deleted outside the tool, leaving changed ones alone", async () => {
        const outs = await create("ru/feedback");
        expect((await provider.read!("ru/feedback", outs)).props).toEqual(outs);
        const repo = fake.repo("ru/feedback")!;
        repo.files.delete(PATHS[1]);
        repo.files.set(PATHS[0], { content: Buffer.from("edited by a maintainer"), sha: "x" });
        const read = (await provider.read!("ru/feedback", outs)).props as FeedbackHubOutputs;
        expect(read).toMatchObject({ templates: [PATHS[0], PATHS[2]], customizedTemplates: [PATHS[0]] });
        expect(diffFeedbackHub(read, { repo: "ru/feedback", ...ME }).changes).toBe(true);
        const updated = (await provider.update!("ru/feedback", read, { repo: "ru/feedback", ...ME })).outs as FeedbackHubOutputs;
        expect(updated).toMatchObject({ templates: PATHS, customizedTemplates: [PATHS[0]], repoCreatedByTool: true });
        expect(fake.file("ru/feedback", PATHS[0])).toBe("edited by a maintainer");
    });
});

describe("delete", () => {
    it("keeps everything by default, even what the tool created", async () => {
        const outs = await create("keep/feedback");
        const before = fake.requests.length;
        await provider.delete!("keep/feedback", outs);
        expect(fake.requests.length).toBe(before); // no call at all
        expect(fake.repo("keep/feedback")).toBeDefined();
        expect(fake.org("keep")).toBeDefined();
    });

    it("with purgeFeedbackHubOnTeardown, deletes the repo and org it created; deleting again (404) is done", async () => {
        const outs = await create("purge/feedback");
        await configure({ purgeFeedbackHubOnTeardown: "true" });
        await provider.delete!("purge/feedback", outs);
        expect(fake.repo("purge/feedback")).toBeUndefined();
        expect(fake.org("purge")).toBeUndefined();
        await provider.delete!("purge/feedback", outs);
        expect(fake.count("DELETE", "/repos/purge/feedback")).toBe(1);
        expect(fake.count("DELETE", "/orgs/purge")).toBe(1);
    });

    it("a 404 answered by DELETE itself (gone in between) counts as done", async () => {
        const outs = await create("race/feedback");
        await configure({ purgeFeedbackHubOnTeardown: "true" });
        fake.inject("DELETE", "/repos/race/feedback", { kind: "status", status: 404 });
        fake.inject("DELETE", "/orgs/race", { kind: "status", status: 404 });
        await provider.delete!("race/feedback", outs);
        expect(fake.count("DELETE", "/repos/race/feedback")).toBe(1);
    });

    it("with purge on, never deletes an adopted org or repo", async () => {
        fake.addOrg("adopted");
        fake.addRepo("adopted/feedback");
        const outs = await create("adopted/feedback");
        await configure({ purgeFeedbackHubOnTeardown: "true" });
        await provider.delete!("adopted/feedback", outs);
        expect(fake.repo("adopted/feedback")).toBeDefined();
        expect(fake.org("adopted")).toBeDefined();
        expect(fake.count("DELETE", /^\/(repos\/adopted|orgs\/adopted)/)).toBe(0);
    });

    it("with purge on, deletes its repo but keeps its org while someone else's repo lives in it", async () => {
        const outs = await create("shared/feedback");
        fake.addRepo("shared/roadmap");
        await configure({ purgeFeedbackHubOnTeardown: "true" });
        await provider.delete!("shared/feedback", outs);
        expect(fake.repo("shared/feedback")).toBeUndefined();
        expect(fake.repo("shared/roadmap")).toBeDefined();
        expect(fake.org("shared")).toBeDefined();
        expect(fake.count("DELETE", "/orgs/shared")).toBe(0);
    });

    it("with purge on, leaves a repo of the same name that someone re-created after ours was deleted", async () => {
        const outs = await create("again/feedback");
        fake.repos.delete("again/feedback");
        fake.addRepo("again/feedback", { description: `someone's, not ours ${LEGACY_MARKER}` });
        await configure({ purgeFeedbackHubOnTeardown: "true" });
        await provider.delete!("again/feedback", outs);
        expect(fake.repo("again/feedback")).toBeDefined();
        expect(fake.org("again")).toBeDefined(); // it still holds that repo
    });
});
