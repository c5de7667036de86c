/**
 * The fake Forgejo's organizations: list, get, create (by a site admin, or by
 * anyone while `allowCreateOrganization`), delete (refused with Forgejo's 500
 * while the org owns repositories), and the org's repositories: list and
 * create (the only way the fake creates a repository, with `auto_init`).
 */
import type { FakeForgejo } from "./forgejo";
import { fail, json, page, type RouteStatuses } from "./forgejo-http";
import { RESERVED, blob, type FakeOrg } from "./forgejo-model";
import { repoOf, toRepo } from "./forgejo-repos";

/** The routes below, with every status they can answer (checked against the swagger with the others). */
export const ORG_ROUTES: RouteStatuses[] = [
    { route: "GET /orgs", statuses: [200] },
    { route: "POST /orgs", statuses: [201, 403, 422] },
    { route: "GET /orgs/{org}", statuses: [200, 404] },
    {
        route: "DELETE /orgs/{org}",
        statuses: [204, 404],
        undocumented: [
            [403, "reqOrgOwnership refuses a non-owner"],
            [500, "org.DeleteOrganization fails with ErrUserOwnRepos while the org owns repositories, and the API handler answers 500"],
        ],
    },
    { route: "GET /orgs/{org}/repos", statuses: [200, 404] },
    {
        route: "POST /orgs/{org}/repos",
        statuses: [201, 403, 404],
        undocumented: [
            [409, "CreateUserRepo answers 409 when the name is taken"],
            [422, "binding errors and reserved names"],
        ],
    },
];

/** Forgejo's `convert.ToOrganization`. */
export function toOrg(org: FakeOrg): Record<string, unknown> {
    return {
        id: org.id,
        name: org.name,
        username: org.name,
        full_name: org.full_name,
        description: org.description,
        visibility: org.visibility,
        avatar_url: "",
        website: "",
        location: "",
        email: "",
        repo_admin_change_team_access: false,
    };
}

/** Registers the organization routes on `fake`; the organizations live in `fake.orgs`. */
export function defineOrgRoutes(fake: FakeForgejo): void {
    fake.route("GET", "/orgs", (ctx) => {
        const seen = [...fake.orgs.values()].filter((o) => fake.visibleOrg(o.name, ctx.doer));
        return json(200, page(ctx, seen).map((o) => toOrg(o)));
    });

    // orgCreate: reqToken; the doer must be allowed to create organizations and becomes an owner.
    fake.route("POST", "/orgs", (ctx) => {
        if (!ctx.doer) return fail(401, "token is required", fake.url);
        if (!ctx.doer.is_admin && !fake.allowCreateOrganization) return fail(403, "user not allowed to create organizations", fake.url);
        const b = ctx.body ?? {};
        if (!b.username) return fail(422, "[Username]: Required", fake.url);
        const name = String(b.username);
        if (RESERVED.has(name.toLowerCase())) return fail(422, `name is reserved [name: ${name}]`, fake.url);
        if (!/^[\da-zA-Z][\w.-]*$/.test(name) || /[-._]{2,}|[-._]$/.test(name) || name.length > 40) {
            return fail(422, `name is invalid [${name}]: must be valid alpha or numeric or dash(-_) or dot characters`, fake.url);
        }
        const visibility = b.visibility ?? "public";
        if (!["", "public", "limited", "private"].includes(visibility)) return fail(422, "[Visibility]: invalid", fake.url);
        if (fake.user(name) || fake.org(name)) return fail(422, `user already exists [name: ${name}]`, fake.url);
        const org = fake.addOrg(name, {
            full_name: String(b.full_name ?? ""),
            description: String(b.description ?? ""),
            visibility: (visibility || "public") as FakeOrg["visibility"],
            owners: [ctx.doer.login],
        });
        return json(201, toOrg(org));
    });

    fake.route("GET", "/orgs/{org}", (ctx) => {
        const org = fake.visibleOrg(ctx.params.org, ctx.doer);
        return org ? json(200, toOrg(org)) : fake.notFound();
    });

    fake.route("DELETE", "/orgs/{org}", (ctx) => {
        if (!ctx.doer) return fail(401, "token is required", fake.url);
        const org = fake.visibleOrg(ctx.params.org, ctx.doer);
        if (!org) return fake.notFound();
        if (!ctx.doer.is_admin && !org.owners.has(ctx.doer.login.toLowerCase())) return fail(403, "Must be an organization owner", fake.url);
        if ([...fake.repos.values()].some((r) => r.owner.toLowerCase() === org.name.toLowerCase())) {
            // Forgejo: org.DeleteOrganization → ErrUserOwnRepos, answered as a 500 by the API handler.
            return fail(500, `user still has ownership of repositories [uid: ${org.id}]`, fake.url);
        }
        fake.orgs.delete(org.name.toLowerCase());
        return { status: 204 };
    });

    fake.route("GET", "/orgs/{org}/repos", (ctx) => {
        const org = fake.visibleOrg(ctx.params.org, ctx.doer);
        if (!org) return fake.notFound();
        const mine = [...fake.repos.values()].filter(
            (r) => r.owner.toLowerCase() === org.name.toLowerCase() && repoOf(fake, { ...ctx, params: { owner: r.owner, repo: r.name } }),
        );
        return json(200, page(ctx, mine).map((r) => toRepo(fake, r)));
    });

    // createOrgRepo: a site admin, or a member allowed to create repos in the org (here: its owners).
    fake.route("POST", "/orgs/{org}/repos", (ctx) => {
        if (!ctx.doer) return fail(401, "token is required", fake.url);
        const org = fake.visibleOrg(ctx.params.org, ctx.doer);
        if (!org) return fake.notFound();
        if (!ctx.doer.is_admin && !org.owners.has(ctx.doer.login.toLowerCase())) {
            return fail(403, "Given user is not allowed to create repository in organization.", fake.url);
        }
        const b = ctx.body ?? {};
        if (!b.name) return fail(422, "[Name]: Required", fake.url);
        const name = String(b.name);
        if (!/^[\w.-]+$/.test(name) || name.length > 100) {
            return fail(422, "[Name]: should contain only alphanumeric, dash ('-'), underscore ('_') and dot ('.') characters", fake.url);
        }
        if ([".", "..", "-"].includes(name)) return fail(422, `name is reserved [name: ${name}]`, fake.url);
        const pattern = ["*.git", "*.rss", "*.atom", "*.wiki"].find((p) => name.toLowerCase().endsWith(p.slice(1)));
        if (pattern) return fail(422, `name pattern is not allowed [pattern: ${pattern}]`, fake.url);
        if (fake.repo(`${org.name}/${name}`)) return fail(409, "The repository with the same name already exists.", fake.url);
        const repo = fake.addRepo(`${org.name}/${name}`, { private: !!b.private, description: String(b.description ?? ""), empty: true });
        repo.default_branch = String(b.default_branch || "main");
        if (b.auto_init) {
            repo.files.set("README.md", blob(Buffer.from(`# ${name}\n\n${repo.description}\n`, "utf8")));
            repo.empty = false;
        }
        return json(201, toRepo(fake, repo));
    });
}
