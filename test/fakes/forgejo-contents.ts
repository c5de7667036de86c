/**
 * The fake Forgejo's contents API on a repository's default branch: get a file
 * or list a directory, create a file, update one given its current git blob
 * SHA. Other refs answer 404, as a missing branch does; an empty repository
 * lists every path as an empty directory, as Forgejo's GetContentsOrList does.
 */
import { randomBytes } from "crypto";
import type { FakeForgejo } from "./forgejo";
import { fail, json, type Answer, type Ctx, type RouteStatuses } from "./forgejo-http";
import { blob, type FakeFile, type FakeRepo } from "./forgejo-model";
import { repoOf } from "./forgejo-repos";

/** The routes below, with every status they can answer (checked against the swagger with the others). */
export const CONTENT_ROUTES: RouteStatuses[] = [
    { route: "GET /repos/{owner}/{repo}/contents/{filepath}", statuses: [200, 404] },
    { route: "POST /repos/{owner}/{repo}/contents/{filepath}", statuses: [201, 403, 404, 422] },
    { route: "PUT /repos/{owner}/{repo}/contents/{filepath}", statuses: [200, 403, 404, 422] },
];

const badPath = (p: string) => p.startsWith("/") || p.split("/").some((seg) => seg === "" || seg === "." || seg === ".." || seg === ".git");

/** Registers the contents routes on `fake`; the files live in each repository's `files`. */
export function defineContentRoutes(fake: FakeForgejo): void {
    const entry = (repo: FakeRepo, p: string, f?: FakeFile): Record<string, unknown> => {
        const base = `${fake.url}/api/v1/repos/${repo.owner}/${repo.name}/contents/${p}`;
        const common = { name: p.split("/").pop(), path: p, url: `${base}?ref=${repo.default_branch}`, html_url: `${fake.url}/${repo.owner}/${repo.name}/src/branch/${repo.default_branch}/${p}` };
        return f
            ? { ...common, type: "file", sha: f.sha, size: f.content.length, encoding: "base64", content: f.content.toString("base64"), download_url: `${fake.url}/${repo.owner}/${repo.name}/raw/branch/${repo.default_branch}/${p}` }
            : { ...common, type: "dir", sha: "", size: 0, encoding: null, content: null, download_url: null };
    };
    const writeGate = (ctx: Ctx): { repo?: FakeRepo; answer?: Answer } => {
        if (!ctx.doer) return { answer: fail(401, "token is required", fake.url) };
        const repo = repoOf(fake, ctx);
        if (!repo) return { answer: fake.notFound() };
        if (!["owner", "write"].includes(fake.repoAccess(repo, ctx.doer))) return { answer: fail(403, "user should have a permission to write to a repo", fake.url) };
        const b = ctx.body ?? {};
        if (typeof b.content !== "string") return { answer: fail(422, "[Content]: Required", fake.url) };
        if (b.branch && b.branch !== repo.default_branch && !repo.empty) return { answer: fail(404, `branch does not exist [name: ${b.branch}]`, fake.url) };
        if (badPath(ctx.params.filepath)) return { answer: fail(422, `path contains a malformed path component [path: ${ctx.params.filepath}]`, fake.url) };
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b.content.replace(/\s/g, ""))) return { answer: fail(422, "illegal base64 data", fake.url) };
        return { repo };
    };
    const written = (repo: FakeRepo, p: string, f: FakeFile, message: string) => ({
        content: entry(repo, p, f),
        commit: { sha: randomBytes(20).toString("hex"), message: `${message}\n` },
    });

    fake.route("GET", "/repos/{owner}/{repo}/contents/{filepath}", (ctx) => {
        const repo = repoOf(fake, ctx);
        if (!repo) return fake.notFound();
        // Forgejo's GetContentsOrList: an empty repo lists every path as an empty directory.
        if (repo.empty) return json(200, []);
        const ref = ctx.query.get("ref");
        if (ref && ref !== repo.default_branch) return fake.notFound();
        const p = ctx.params.filepath.replace(/\/+$/, "");
        const f = repo.files.get(p);
        if (f) return json(200, entry(repo, p, f));
        const children = new Map<string, FakeFile | undefined>();
        for (const [q, qf] of repo.files) {
            if (!q.startsWith(`${p}/`)) continue;
            const rest = q.slice(p.length + 1);
            const slash = rest.indexOf("/");
            children.set(`${p}/${slash < 0 ? rest : rest.slice(0, slash)}`, slash < 0 ? qf : undefined);
        }
        if (children.size === 0) return fake.notFound();
        return json(200, [...children].sort(([a], [b]) => a.localeCompare(b)).map(([q, qf]) => entry(repo, q, qf)));
    });

    fake.route("POST", "/repos/{owner}/{repo}/contents/{filepath}", (ctx) => {
        const { repo, answer } = writeGate(ctx);
        if (answer) return answer;
        const p = ctx.params.filepath;
        if (repo!.files.has(p)) return fail(422, `repository file already exists [path: ${p}]`, fake.url);
        const parts = p.split("/");
        for (let i = 1; i < parts.length; i++) {
            const dir = parts.slice(0, i).join("/");
            if (repo!.files.has(dir)) return fail(422, `a file exists where you’re trying to create a subdirectory [path: ${dir}]`, fake.url);
        }
        if ([...repo!.files.keys()].some((q) => q.startsWith(`${p}/`))) return fail(422, `a directory exists where you’re trying to create a file [path: ${p}]`, fake.url);
        const f = blob(Buffer.from(ctx.body.content, "base64"));
        repo!.files.set(p, f);
        repo!.empty = false;
        return json(201, written(repo!, p, f, ctx.body.message || `Add ${p}`));
    });

    fake.route("PUT", "/repos/{owner}/{repo}/contents/{filepath}", (ctx) => {
        const { repo, answer } = writeGate(ctx);
        if (answer) return answer;
        const p = ctx.params.filepath;
        if (!ctx.body.sha) return fail(422, "[SHA]: Required", fake.url);
        const old = repo!.files.get(p);
        if (!old) return fail(404, `repository file does not exist [path: ${p}]`, fake.url);
        if (old.sha !== ctx.body.sha) return fail(422, `sha does not match [given: ${ctx.body.sha}, expected: ${old.sha}]`, fake.url);
        const f = blob(Buffer.from(ctx.body.content, "base64"));
        repo!.files.set(p, f);
        return json(200, written(repo!, p, f, ctx.body.message || `Update ${p}`));
    });
}
