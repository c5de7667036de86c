/**
 * The fake Forgejo's repositories and their collaborators: get and delete a
 * repository (creating one is the organizations' route), check, add and remove
 * a collaborator. `repoOf` finds the repository a request names when its doer
 * may see it, as Forgejo's repo assignment middleware does (else 404); the
 * organizations' and the contents' routes use it too.
 */
import type { FakeForgejo } from "./forgejo";
import { fail, json, type Ctx, type RouteStatuses } from "./forgejo-http";
import type { FakeRepo } from "./forgejo-model";

/** The routes below, with every status they can answer (checked against the swagger with the others). */
export const REPO_ROUTES: RouteStatuses[] = [
    { route: "GET /repos/{owner}/{repo}", statuses: [200, 404] },
    { route: "GET /repos/{owner}/{repo}/collaborators/{collaborator}", statuses: [204, 404, 422] },
    { route: "PUT /repos/{owner}/{repo}/collaborators/{collaborator}", statuses: [204, 403, 404, 422] },
    { route: "DELETE /repos/{owner}/{repo}/collaborators/{collaborator}", statuses: [204, 404, 422] },
    { route: "DELETE /repos/{owner}/{repo}", statuses: [204, 403, 404] },
];

/** The repository `ctx.params.owner`/`ctx.params.repo`, when the doer may see it (its org too). */
export function repoOf(fake: FakeForgejo, ctx: Ctx): FakeRepo | undefined {
    const repo = fake.repo(`${ctx.params.owner}/${ctx.params.repo}`);
    if (!repo) return undefined;
    const org = fake.org(repo.owner);
    if (org && !fake.visibleOrg(org.name, ctx.doer)) return undefined;
    const seen = !repo.private || fake.repoAccess(repo, ctx.doer) !== "none";
    return seen ? repo : undefined;
}

/** Forgejo's `convert.ToRepo`, the fields a client reads. */
export function toRepo(fake: FakeForgejo, repo: FakeRepo): Record<string, unknown> {
    const owner = fake.user(repo.owner) ?? fake.org(repo.owner);
    const full = `${repo.owner}/${repo.name}`;
    return {
        id: repo.id,
        name: repo.name,
        full_name: full,
        owner: { id: owner?.id ?? 0, login: owner && "login" in owner ? owner.login : (owner?.name ?? repo.owner) },
        description: repo.description,
        private: repo.private,
        empty: repo.empty,
        default_branch: repo.default_branch,
        html_url: `${fake.url}/${full}`,
        clone_url: `${fake.url}/${full}.git`,
    };
}

/** Registers the repository and collaborator routes on `fake`; the repositories live in `fake.repos`. */
export function defineRepoRoutes(fake: FakeForgejo): void {
    fake.route("GET", "/repos/{owner}/{repo}", (ctx) => {
        const repo = repoOf(fake, ctx);
        return repo ? json(200, toRepo(fake, repo)) : fake.notFound();
    });

    // repoDelete: reqToken + reqOwner (repo owner, org owner or site admin).
    fake.route("DELETE", "/repos/{owner}/{repo}", (ctx) => {
        if (!ctx.doer) return fail(401, "token is required", fake.url);
        const repo = repoOf(fake, ctx);
        if (!repo) return fake.notFound();
        if (fake.repoAccess(repo, ctx.doer) !== "owner") return fail(403, "user should be the owner of the repo", fake.url);
        fake.repos.delete(`${repo.owner}/${repo.name}`.toLowerCase());
        return { status: 204 };
    });

    fake.route("GET", "/repos/{owner}/{repo}/collaborators/{collaborator}", (ctx) => {
        const repo = repoOf(fake, ctx);
        if (!repo) return fake.notFound();
        if (!fake.user(ctx.params.collaborator)) return fail(422, `user does not exist [uid: 0, name: ${ctx.params.collaborator}]`, fake.url);
        return repo.collaborators.has(ctx.params.collaborator.toLowerCase()) ? { status: 204 } : fake.notFound();
    });

    fake.route("PUT", "/repos/{owner}/{repo}/collaborators/{collaborator}", (ctx) => {
        const repo = repoOf(fake, ctx);
        if (!repo) return fake.notFound();
        if (!ctx.doer || !(ctx.doer.is_admin || ctx.doer.login.toLowerCase() === repo.owner.toLowerCase())) {
            return fail(403, "user should be an owner or a collaborator with admin write of a repository", fake.url);
        }
        const who = fake.user(ctx.params.collaborator);
        if (!who) return fail(422, `user does not exist [uid: 0, name: ${ctx.params.collaborator}]`, fake.url);
        const permission = ctx.body?.permission ?? "write";
        if (!["read", "write", "admin"].includes(permission)) return fail(422, "[Permission]: invalid permission", fake.url);
        repo.collaborators.set(who.login.toLowerCase(), permission);
        return { status: 204 };
    });

    fake.route("DELETE", "/repos/{owner}/{repo}/collaborators/{collaborator}", (ctx) => {
        const repo = repoOf(fake, ctx);
        if (!repo) return fake.notFound();
        const who = fake.user(ctx.params.collaborator);
        if (!who) return fail(422, `user does not exist [uid: 0, name: ${ctx.params.collaborator}]`, fake.url);
        repo.collaborators.delete(who.login.toLowerCase());
        return { status: 204 };
    });
}
