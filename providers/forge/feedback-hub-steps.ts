/**
 * The FeedbackHub's steps on the Forge: find or create the org and the repo, add the
 * missing templates, delete what this tool created, and explain what the Forge refused.
 * Called by the provider in providers/forge/feedback-hub.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { ForgeClientOptions, ForgeError, backoffMs, call, explain, isForgeStatus, pause } from "./client";
import { type StackIdentity } from "../ownership";
import { orgDescription, repoDescription, TEMPLATES, type FeedbackHubInputs, type FeedbackHubOutputs, type ForgeOrg, type ForgeRepo, type Owner, type TemplateState, marked } from "./feedback-hub-rules";

export function note(line: string): void {
    process.stderr.write(`${line}\n`);
}

export async function ignore404<T>(p: Promise<T>): Promise<T | undefined> {
    try {
        return await p;
    } catch (err) {
        if (isForgeStatus(err, 404)) return undefined;
        throw err;
    }
}

export async function getRepo(c: ForgeClientOptions, owner: string, repo: string): Promise<ForgeRepo | undefined> {
    return (await ignore404(call<ForgeRepo>(c, "GET /repos/{owner}/{repo}", { params: { owner, repo } })))?.body;
}

async function getOrg(c: ForgeClientOptions, org: string): Promise<ForgeOrg | undefined> {
    return (await ignore404(call<ForgeOrg>(c, "GET /orgs/{org}", { params: { org } })))?.body;
}

/** The owner of an existing repo: an organization, or a user account. */
export async function findOwner(c: ForgeClientOptions, owner: string, me: StackIdentity): Promise<Owner> {
    const org = await getOrg(c, owner);
    return org ? { name: org.name, kind: "organization", id: org.id, created: marked(org.description, me) } : { name: owner, kind: "user", id: 0, created: false };
}

/** Finds or creates the organization. A POST is never blind-retried: each attempt looks up first. */
export async function ensureOrg(c: ForgeClientOptions, name: string, me: StackIdentity): Promise<Owner> {
    for (let attempt = 0; ; attempt++) {
        const org = await getOrg(c, name);
        if (org) return { name: org.name, kind: "organization", id: org.id, created: marked(org.description, me) };
        try {
            const res = await call<ForgeOrg>(c, "POST /orgs", { body: { username: name, full_name: name, description: orgDescription(me), visibility: "public" } });
            return { name: res.body.name, kind: "organization", id: res.body.id, created: true };
        } catch (err) {
            const taken = isForgeStatus(err, 422) && /already exists/i.test(err.forgeMessage);
            if (taken && !(await getOrg(c, name))) {
                throw explain(
                    err as ForgeError,
                    `"${name}" is a Forge user account, not an organization, and has no repo of that name: create the feedback repo under that account ` +
                        `by hand (the tool adopts it), or set config hero-os-grid-deployer:feedbackRepo to an organization's repo`,
                );
            }
            if (err instanceof ForgeError && (err.retryable || taken) && attempt < 3) {
                await pause(backoffMs(c, attempt)); // the answer was lost, or someone just created it: look again
                continue;
            }
            throw err;
        }
    }
}

/** Finds or creates the public repo, initialised with a README so files can be added to its default branch. */
export async function ensureRepo(c: ForgeClientOptions, org: string, name: string, me: StackIdentity): Promise<{ repo: ForgeRepo; created: boolean }> {
    for (let attempt = 0; ; attempt++) {
        const found = await getRepo(c, org, name);
        // Found after a lost answer or a crash: ours only when it carries this stack's marker.
        if (found) return { repo: found, created: marked(found.description, me) };
        try {
            const body = { name, description: repoDescription(me), private: false, auto_init: true, readme: "Default", default_branch: "main" };
            return { repo: (await call<ForgeRepo>(c, "POST /orgs/{org}/repos", { params: { org }, body })).body, created: true };
        } catch (err) {
            if (err instanceof ForgeError && (err.retryable || err.status === 409) && attempt < 3) {
                await pause(backoffMs(c, attempt));
                continue;
            }
            throw err;
        }
    }
}

function contentsRoute(method: string, filepath: string): string {
    return `${method} /repos/{owner}/{repo}/contents/${filepath.split("/").map(encodeURIComponent).join("/")}`;
}

/** The template file's text, or undefined when it is missing (or the repo has no commit yet). */
async function readFile(c: ForgeClientOptions, repo: ForgeRepo, filepath: string): Promise<string | undefined> {
    const [owner, name] = repo.full_name.split("/");
    const res = await ignore404(call<{ type?: string; content?: string } | unknown[]>(c, contentsRoute("GET", filepath), { params: { owner, repo: name } }));
    if (!res) return undefined;
    const body = res.body;
    // An empty repo (no commit yet) answers 200 with an empty list for every path, not 404
    // (Forgejo's GetContentsOrList); git keeps no empty directory, so an empty list is nothing there.
    if (Array.isArray(body)) return body.length === 0 ? undefined : ""; // a directory in the way: present, not ours
    if (body?.type !== "file") return ""; // a link or submodule in the way: present, not ours
    return Buffer.from(body.content ?? "", "base64").toString("utf8");
}

function same(a: string, b: string): boolean {
    const norm = (s: string) => s.replace(/\r\n/g, "\n").trim();
    return norm(a) === norm(b);
}

export async function readTemplates(c: ForgeClientOptions, repo: ForgeRepo): Promise<TemplateState> {
    const state: TemplateState = { present: [], customized: [] };
    for (const [p, text] of Object.entries(TEMPLATES)) {
        const found = await readFile(c, repo, p);
        if (found === undefined) continue;
        state.present.push(p);
        if (!same(found, text)) state.customized.push(p);
    }
    return state;
}

/** Adds each missing template; never touches a file that exists. A lost answer is settled by looking again. */
export async function ensureTemplates(c: ForgeClientOptions, repo: ForgeRepo): Promise<TemplateState> {
    const [owner, name] = repo.full_name.split("/");
    for (const [p, text] of Object.entries(TEMPLATES)) {
        for (let attempt = 0; ; attempt++) {
            if ((await readFile(c, repo, p)) !== undefined) break;
            try {
                await call(c, contentsRoute("POST", p), {
                    params: { owner, repo: name },
                    body: { content: Buffer.from(text, "utf8").toString("base64"), message: `Add issue template ${p} (hero-os-grid-deployer)` },
                });
                note(`feedback hub: added ${p} to ${repo.full_name}`);
                break;
            } catch (err) {
                const exists = isForgeStatus(err, 422) && /already exists/i.test(err.forgeMessage);
                if (err instanceof ForgeError && (err.retryable || exists) && attempt < 3) {
                    await pause(backoffMs(c, attempt));
                    continue;
                }
                throw err;
            }
        }
    }
    return readTemplates(c, repo);
}

/** Deletes an org this tool created, once no repository is left in it; a repo someone else added keeps it alive. */
export async function deleteOrgIfEmpty(c: ForgeClientOptions, name: string, id: number): Promise<void> {
    const org = await getOrg(c, name);
    if (!org || (id && org.id !== id)) return; // gone, or the name now belongs to someone else
    const left = (await call<ForgeRepo[]>(c, "GET /orgs/{org}/repos", { params: { org: name }, query: { limit: 50 } })).body ?? [];
    if (left.length > 0) {
        note(`feedback hub: keeping organization ${name}: it still holds ${left.map((r) => r.full_name).join(", ")}`);
        return;
    }
    note(`feedback hub: deleting organization ${name}, which this tool created (purgeFeedbackHubOnTeardown)`);
    await ignore404(call(c, "DELETE /orgs/{org}", { params: { org: name } }));
}

export function outputs(c: ForgeClientOptions, inputs: FeedbackHubInputs, org: Owner, repo: ForgeRepo, repoCreated: boolean, t: TemplateState): FeedbackHubOutputs {
    return {
        repo: inputs.repo,
        // Absent in state written before stack identities: a refresh of it must not write undefined (gRPC refuses it).
        ...(inputs.stack === undefined ? {} : { stack: inputs.stack, stackId: inputs.stackId }),
        org: org.name,
        ownerKind: org.kind,
        orgId: org.id,
        fullName: repo.full_name,
        repoId: repo.id,
        repoUrl: repo.html_url || `${c.baseUrl.replace(/\/+$/, "").replace(/\/api\/v1$/, "")}/${repo.full_name}`,
        private: repo.private === true,
        orgCreatedByTool: org.created,
        repoCreatedByTool: repoCreated,
        templates: t.present,
        customizedTemplates: t.customized,
    };
}

/** Turns Forgejo's 401/403 answers into something an admin can act on. */
export function explainHub(err: unknown, repo: string): unknown {
    if (!(err instanceof ForgeError) || err.explanation) return err;
    if (err.status === 401) {
        return explain(err, `Forge refused the token in config hero-os-grid-deployer:forgeToken (expired or revoked?); set a valid admin token with \`pulumi config set --secret forgeToken\``);
    }
    if (err.status === 403) {
        return explain(err, `the Forge token in config hero-os-grid-deployer:forgeToken may not manage the feedback hub ${repo}; it must belong to a site administrator`);
    }
    return err;
}
