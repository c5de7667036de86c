/**
 * The fake Forgejo's organization, repository and contents routes against what
 * Forgejo's handlers do, so the feedback-hub tests that lean on them test
 * something real. (The swagger check of every route's statuses is in
 * test/forge-fake.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ForgeClientOptions, call } from "../providers/forge/client";
import { FakeForgejo, blob, forgeStatus } from "./fakes/forgejo";

let fake: FakeForgejo;
let c: ForgeClientOptions;
let userToken: string;

beforeAll(async () => {
    fake = await FakeForgejo.start();
    c = { baseUrl: fake.url, token: fake.adminToken, retries: 0 };
    fake.addUser({ login: "plain", email: "plain@x.test", password: "plain-password-1" });
    const tok = await call<{ sha1: string }>(c, "POST /users/{username}/tokens", {
        params: { username: "plain" },
        basic: { username: "plain", password: "plain-password-1" },
        body: { name: "t", scopes: ["write:organization", "write:repository"] },
    });
    userToken = tok.body.sha1;
});
afterAll(async () => {
    await fake.stop();
});

const status = forgeStatus;

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

describe("organizations", () => {
    it("POST /orgs creates (201, creator is owner), refuses a taken user or org name with 422, and GET /orgs/{org} finds it", async () => {
        const made = await call<{ name: string; visibility: string; description: string }>(c, "POST /orgs", { body: { username: "acme", description: "d", visibility: "public" } });
        expect(made.status).toBe(201);
        expect(made.body).toMatchObject({ name: "acme", visibility: "public", description: "d" });
        expect([...fake.org("acme")!.owners]).toEqual(["forge-admin"]);
        expect(await status(call(c, "POST /orgs", { body: { username: "ACME" } }))).toEqual({ status: 422, message: "user already exists [name: ACME]" });
        expect(await status(call(c, "POST /orgs", { body: { username: "plain" } }))).toEqual({ status: 422, message: "user already exists [name: plain]" });
        expect((await status(call(c, "POST /orgs", { body: { username: "x", visibility: "secret" } }))).status).toBe(422);
        expect((await call(c, "GET /orgs/{org}", { params: { org: "acme" } })).status).toBe(200);
        expect((await status(call(c, "GET /orgs/{org}", { params: { org: "plain" } }))).status).toBe(404); // a user is not an org
        // An org shares the users' namespace: no user may take its name, and GET /users/{name} finds it.
        const clash = await status(call(c, "POST /admin/users", { body: { username: "acme", email: "acme@x.test", password: "long-enough-1" } }));
        expect(clash).toEqual({ status: 422, message: "user already exists [name: acme]" });
        expect((await call<{ login: string }>(c, "GET /users/{username}", { params: { username: "acme" } })).body.login).toBe("acme");
    });

    it("hides a private org from outsiders (404), shows a limited one to signed-in users, and 403s a user who may not create orgs", async () => {
        fake.addOrg("hidden", { visibility: "private" });
        fake.addOrg("members", { visibility: "limited" });
        const user = { ...c, token: userToken };
        const anon = { ...c, token: undefined };
        expect((await status(call(user, "GET /orgs/{org}", { params: { org: "hidden" } }))).status).toBe(404);
        expect((await status(call(c, "GET /orgs/{org}", { params: { org: "hidden" } }))).status).toBe(200);
        expect((await status(call(user, "GET /orgs/{org}", { params: { org: "members" } }))).status).toBe(200);
        expect((await status(call(anon, "GET /orgs/{org}", { params: { org: "members" } }))).status).toBe(404);
        const listed = await call<Array<{ name: string }>>(anon, "GET /orgs");
        expect(listed.body.map((o) => o.name)).not.toContain("hidden");
        fake.allowCreateOrganization = false;
        expect(await status(call(user, "POST /orgs", { body: { username: "mine" } }))).toEqual({ status: 403, message: "user not allowed to create organizations" });
        fake.allowCreateOrganization = true;
    });

    it("POST /orgs/{org}/repos: 201 with a README when auto_init, 409 on a taken name, 404 for no org, 403 for a non-owner", async () => {
        const body = { name: "feedback", description: "fb", auto_init: true, default_branch: "main" };
        const made = await call<{ full_name: string; empty: boolean; html_url: string; private: boolean }>(c, "POST /orgs/{org}/repos", { params: { org: "acme" }, body });
        expect(made.status).toBe(201);
        expect(made.body).toMatchObject({ full_name: "acme/feedback", empty: false, private: false, html_url: `${fake.url}/acme/feedback` });
        expect(fake.file("acme/feedback", "README.md")).toContain("# feedback");
        expect(await status(call(c, "POST /orgs/{org}/repos", { params: { org: "acme" }, body }))).toEqual({ status: 409, message: "The repository with the same name already exists." });
        expect((await status(call(c, "POST /orgs/{org}/repos", { params: { org: "nowhere" }, body }))).status).toBe(404);
        expect((await status(call({ ...c, token: userToken }, "POST /orgs/{org}/repos", { params: { org: "acme" }, body: { name: "x" } }))).status).toBe(403);
        expect((await status(call(c, "POST /orgs/{org}/repos", { params: { org: "acme" }, body: { name: "x.git" } }))).status).toBe(422);
        const bare = await call<{ empty: boolean }>(c, "POST /orgs/{org}/repos", { params: { org: "acme" }, body: { name: "bare" } });
        expect(bare.body.empty).toBe(true);
        const listed = await call<Array<{ full_name: string }>>(c, "GET /orgs/{org}/repos", { params: { org: "acme" } });
        expect(listed.body.map((r) => r.full_name)).toEqual(["acme/feedback", "acme/bare"]);
    });

    it("DELETE /orgs/{org} answers 500 while the org owns repos (as Forgejo does), 204 once empty, then 404", async () => {
        fake.addOrg("temp");
        fake.addRepo("temp/one");
        expect(await status(call({ ...c, retries: 0 }, "DELETE /orgs/{org}", { params: { org: "temp" } }))).toEqual({
            status: 500,
            message: `user still has ownership of repositories [uid: ${fake.org("temp")!.id}]`,
        });
        expect((await status(call({ ...c, token: userToken }, "DELETE /orgs/{org}", { params: { org: "temp" } }))).status).toBe(403);
        expect((await status(call(c, "DELETE /repos/{owner}/{repo}", { params: { owner: "temp", repo: "one" } }))).status).toBe(204);
        expect((await status(call(c, "DELETE /repos/{owner}/{repo}", { params: { owner: "temp", repo: "one" } }))).status).toBe(404);
        expect((await status(call(c, "DELETE /orgs/{org}", { params: { org: "temp" } }))).status).toBe(204);
        expect((await status(call(c, "DELETE /orgs/{org}", { params: { org: "temp" } }))).status).toBe(404);
    });

    it("DELETE /repos/{owner}/{repo} is for owners: 403 for a read collaborator", async () => {
        fake.addRepo("acme/guarded").collaborators.set("plain", "read");
        expect(await status(call({ ...c, token: userToken }, "DELETE /repos/{owner}/{repo}", { params: { owner: "acme", repo: "guarded" } }))).toEqual({
            status: 403,
            message: "user should be the owner of the repo",
        });
    });
});

describe("contents", () => {
    const route = (m: string, p: string) => `${m} /repos/{owner}/{repo}/contents/${p}`;
    const params = { owner: "acme", repo: "feedback" };

    it("names files by their git blob SHA-1", () => {
        expect(blob(Buffer.alloc(0)).sha).toBe("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"); // git hash-object of an empty file
        expect(blob(Buffer.from("hello\n")).sha).toBe("ce013625030ba8dba906f756967f9e9ca394464a");
    });

    it("POST creates a nested file (201), refuses it again (422), GET returns it base64 with its SHA, and lists its directory", async () => {
        const made = await call<{ content: { path: string; sha: string } }>(c, route("POST", ".forgejo/issue_template/bug.md"), {
            params,
            body: { content: b64("---\nname: Bug\n---\n"), message: "add" },
        });
        expect(made.status).toBe(201);
        expect(made.body.content).toMatchObject({ path: ".forgejo/issue_template/bug.md", sha: blob(Buffer.from("---\nname: Bug\n---\n")).sha });
        expect(await status(call(c, route("POST", ".forgejo/issue_template/bug.md"), { params, body: { content: b64("x") } }))).toEqual({
            status: 422,
            message: "repository file already exists [path: .forgejo/issue_template/bug.md]",
        });
        const got = await call<{ type: string; encoding: string; content: string; sha: string }>(c, route("GET", ".forgejo/issue_template/bug.md"), { params });
        expect(got.body).toMatchObject({ type: "file", encoding: "base64", sha: made.body.content.sha });
        expect(Buffer.from(got.body.content, "base64").toString()).toBe("---\nname: Bug\n---\n");
        const dir = await call<Array<{ path: string; type: string }>>(c, route("GET", ".forgejo"), { params });
        expect(dir.body).toEqual([expect.objectContaining({ path: ".forgejo/issue_template", type: "dir" })]);
        expect((await status(call(c, route("GET", ".forgejo/issue_template/none.md"), { params }))).status).toBe(404);
        expect((await status(call(c, route("GET", ".forgejo/issue_template/bug.md"), { params, query: { ref: "elsewhere" } }))).status).toBe(404);
    });

    it("PUT needs the current SHA (422 otherwise), 404 for a missing file; POST and PUT need write access (403)", async () => {
        const p = ".forgejo/issue_template/bug.md";
        expect((await status(call(c, route("PUT", p), { params, body: { content: b64("y") } }))).status).toBe(422);
        expect((await status(call(c, route("PUT", p), { params, body: { content: b64("y"), sha: "0".repeat(40) } }))).message).toMatch(/^sha does not match/);
        const sha = fake.repo("acme/feedback")!.files.get(p)!.sha;
        expect((await status(call(c, route("PUT", p), { params, body: { content: b64("y"), sha } }))).status).toBe(200);
        expect(fake.file("acme/feedback", p)).toBe("y");
        expect((await status(call(c, route("PUT", "missing.md"), { params, body: { content: b64("y"), sha } }))).status).toBe(404);
        fake.repo("acme/feedback")!.collaborators.set("plain", "read");
        const denied = await status(call({ ...c, token: userToken }, route("POST", "other.md"), { params, body: { content: b64("z") } }));
        expect(denied.status).toBe(403);
        expect((await status(call(c, route("POST", ".git/hooks/post-receive"), { params, body: { content: b64("z") } }))).status).toBe(422);
    });

    it("real Forgejo: an empty repo answers GET of any path with 200 and an empty list (not 404) until a file is created in it", async () => {
        const p = { owner: "acme", repo: "bare" };
        expect(await call(c, route("GET", "README.md"), { params: p })).toMatchObject({ status: 200, body: [] });
        expect((await status(call(c, route("POST", "README.md"), { params: p, body: { content: b64("first") } }))).status).toBe(201);
        expect((await status(call(c, route("GET", "README.md"), { params: p }))).status).toBe(200);
    });
});
