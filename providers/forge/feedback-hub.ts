/**
 * The stack's feedback hub on the Forge: a public organization and a public
 * repo (default `lhumina_public/feedback`) carrying issue templates for bug
 * reports, feature ideas and general feedback. Declared once per stack; every
 * user's ForgeAccount waits for it and grants its user access to the repo.
 *
 * Create looks up first and adopts what exists. An org or repo carrying THIS
 * stack's marker in its description is our own (a crashed create, or an earlier
 * run of this stack that kept it); anything else, another stack's marker
 * included, is adopted as is and recorded as not ours, so another stack's purge
 * can never delete it.
 * Missing template files are added to any repo, ours or adopted; a file that
 * already exists is never overwritten, only reported when it differs.
 * Delete removes nothing unless config `purgeFeedbackHubOnTeardown` is true, and
 * then only the repo and org this tool created (the org only once it has no
 * other repository).
 *
 * The admin token and Forge URL come from stack config through `configure()` and
 * live on the provider object at run time only. `check` and `diff` make no
 * network calls.
 */
import * as pulumi from "@pulumi/pulumi";
import { SHIMS, replaceDeletesFirst } from "../shims";
import { ForgeClientOptions, ForgeError, ForgeSettings, backoffMs, call, clientOptionsFrom, explain, forgeSettingsFrom, isForgeStatus, pause, splitRepo } from "./client";
import { markerOwner, ownerMarker, type StackIdentity } from "../ownership";

export const DEFAULT_FEEDBACK_REPO = "lhumina_public/feedback";
/** The descriptions of the org and repo this stack creates: they carry its marker. */
export function orgDescription(identity: StackIdentity): string {
    return `Hero OS demo: public feedback ${ownerMarker(identity)}`;
}
export function repoDescription(identity: StackIdentity): string {
    return `Feedback on the Hero OS demo: bug reports, feature ideas, impressions ${ownerMarker(identity)}`;
}
/** Pulumi's placeholder for a value not known during preview. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** The issue templates, as Forgejo reads them (Markdown with YAML front matter: name, about, title, labels). */
export const TEMPLATES: Record<string, string> = {
    ".forgejo/issue_template/bug.md": [
        "---",
        "name: Bug report",
        "about: Something in Hero OS does not work as it should",
        'title: "[bug] "',
        "labels:",
        "  - bug",
        "---",
        "",
        "**What happened?**",
        "",
        "**What did you expect instead?**",
        "",
        "**How can we see it happen?** (steps, page, service: cockpit, books, slides, ...)",
        "",
        "**Your demo username and browser:**",
        "",
    ].join("\n"),
    ".forgejo/issue_template/feature.md": [
        "---",
        "name: Feature idea",
        "about: Something Hero OS should do, or do better",
        'title: "[feature] "',
        "labels:",
        "  - feature",
        "---",
        "",
        "**What would you like to do?**",
        "",
        "**Why does it matter to you?**",
        "",
        "**How do you do it today, if at all?**",
        "",
    ].join("\n"),
    ".forgejo/issue_template/feedback.md": [
        "---",
        "name: Feedback",
        "about: Impressions, questions, anything else about the demo",
        'title: "[feedback] "',
        "labels:",
        "  - feedback",
        "---",
        "",
        "**What is on your mind?**",
        "",
    ].join("\n"),
};

/** What the provider receives: plain values. */
export interface FeedbackHubInputs {
    /** `"owner/name"`; the owner is the organization. */
    repo: string;
    /** This stack's full name and identity hash (providers/ownership.ts); absent in state written before stack identities. */
    stack?: string;
    stackId?: string;
}

export interface FeedbackHubOutputs extends FeedbackHubInputs {
    /** The owner as Forge spells it: an organization, or a user when an existing user-owned repo was adopted. */
    org: string;
    ownerKind: "organization" | "user";
    orgId: number;
    /** The repo as Forge spells it, `owner/name`. */
    fullName: string;
    repoId: number;
    /** `https://<forge>/<owner>/<name>`. */
    repoUrl: string;
    private: boolean;
    orgCreatedByTool: boolean;
    repoCreatedByTool: boolean;
    /** Which of the template paths are present in the repo. */
    templates: string[];
    /** Template paths present with content other than the tool's (left as they are). */
    customizedTemplates: string[];
}

interface ForgeOrg {
    id: number;
    name: string;
    description?: string;
}

interface ForgeRepo {
    id: number;
    name: string;
    full_name: string;
    description?: string;
    private?: boolean;
    empty?: boolean;
    html_url?: string;
    owner?: { login?: string };
}

interface FeedbackHubProvider extends pulumi.dynamic.ResourceProvider<FeedbackHubInputs, FeedbackHubOutputs> {
    settings?: ForgeSettings;
    client(): ForgeClientOptions;
}

/** The implementation behind the FeedbackHub shim (providers/shims.ts); ordinary code, not serialized. */
export const feedbackHubProvider: FeedbackHubProvider = {
    settings: undefined,

    async configure(req) {
        this.settings = forgeSettingsFrom(req.config, "purgeFeedbackHubOnTeardown");
    },

    client() {
        return clientOptionsFrom(this.settings);
    },

    async check(_olds, news) {
        return checkFeedbackHub(news);
    },

    async diff(_id, olds, news) {
        return diffFeedbackHub(olds, news);
    },

    async create(inputs) {
        const c = this.client();
        try {
            const { owner, repo: name } = splitRepo(inputs.repo);
            let repo = await getRepo(c, owner, name);
            let org: Owner;
            let repoCreated: boolean;
            const me = identityOf(inputs);
            if (repo) {
                org = await findOwner(c, repo.owner?.login ?? owner, me);
                repoCreated = marked(repo.description, me);
            } else {
                org = await ensureOrg(c, owner, me);
                ({ repo, created: repoCreated } = await ensureRepo(c, org.name, name, me));
            }
            note(`feedback hub: ${org.kind} ${org.name} ${org.created ? "created by this tool" : "adopted"}, repo ${repo.full_name} ${repoCreated ? "created by this tool" : "adopted"}`);
            const t = await ensureTemplates(c, repo);
            return { id: repo.full_name, outs: outputs(c, inputs, org, repo, repoCreated, t) };
        } catch (err) {
            throw explainHub(err, inputs.repo);
        }
    },

    async read(id, stored) {
        const props = stored as FeedbackHubOutputs;
        try {
            const c = this.client();
            const { owner, repo: name } = splitRepo(props.fullName || id);
            const repo = await getRepo(c, owner, name);
            if (!repo || (props.repoId && repo.id !== props.repoId)) {
                note(`feedback hub: repo ${props.fullName || id} is gone from the Forge${repo ? " (a different repo now has its name)" : ""}`);
                return { id: "", props: {} as FeedbackHubOutputs };
            }
            const t = await readTemplates(c, repo);
            const org = { name: repo.owner?.login ?? props.org, kind: props.ownerKind, id: props.orgId, created: props.orgCreatedByTool };
            return { id: repo.full_name, props: outputs(c, props, org, repo, props.repoCreatedByTool, t) };
        } catch (err) {
            throw explainHub(err, props.repo ?? id);
        }
    },

    async update(_id, olds, news) {
        try {
            const c = this.client();
            const { owner, repo: name } = splitRepo(olds.fullName);
            const repo = await getRepo(c, owner, name);
            if (!repo) {
                throw new Error(`feedback repo ${olds.fullName} is gone from the Forge; run \`pulumi refresh\`, then \`pulumi up\` recreates it`);
            }
            const t = await ensureTemplates(c, repo);
            const org = { name: olds.org, kind: olds.ownerKind, id: olds.orgId, created: olds.orgCreatedByTool };
            return { outs: outputs(c, news, org, repo, olds.repoCreatedByTool, t) };
        } catch (err) {
            throw explainHub(err, news.repo);
        }
    },

    async delete(id, props) {
        const full = props.fullName || id;
        if (!this.settings?.purge) {
            note(`feedback hub: keeping ${full} and its organization on the Forge (purgeFeedbackHubOnTeardown is not true)`);
            return;
        }
        try {
            const c = this.client();
            const { owner, repo: name } = splitRepo(full);
            if (props.repoCreatedByTool) {
                const repo = await getRepo(c, owner, name);
                if (repo && (!props.repoId || repo.id === props.repoId)) {
                    note(`feedback hub: deleting repo ${full}, which this tool created (purgeFeedbackHubOnTeardown), with its issues`);
                    await ignore404(call(c, "DELETE /repos/{owner}/{repo}", { params: { owner, repo: name } }));
                }
            } else {
                note(`feedback hub: keeping repo ${full}: this tool did not create it`);
            }
            if (props.orgCreatedByTool && props.ownerKind === "organization") {
                await deleteOrgIfEmpty(c, props.org, props.orgId);
            }
        } catch (err) {
            throw explainHub(err, full);
        }
    },
};

/** Validates and normalises inputs, offline. A value unknown during preview passes. */
export function checkFeedbackHub(news: Partial<FeedbackHubInputs>): pulumi.dynamic.CheckResult<FeedbackHubInputs> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const raw = news.repo ?? DEFAULT_FEEDBACK_REPO;
    const repo = typeof raw === "string" ? raw.trim() : raw;
    if (repo !== UNKNOWN) {
        const m = typeof repo === "string" ? /^([\da-zA-Z][\w.-]*)\/([\w.-]+)$/.exec(repo) : null;
        if (!m || /[-._]{2,}|[-._]$/.test(m[1]) || m[1].length > 40 || m[2].length > 100 || /^\.{1,2}$|^-$|\.(git|wiki|rss|atom)$/i.test(m[2])) {
            failures.push({ property: "repo", reason: `repo must be "organization/name" as Forge allows them (e.g. ${DEFAULT_FEEDBACK_REPO}), not ${JSON.stringify(raw)}` });
        }
    }
    if (typeof news.stack !== "string" || !/^\S+\/\S+\/\S+$/.test(news.stack)) failures.push({ property: "stack", reason: 'stack must be "<organization>/<project>/<stack>"' });
    if (typeof news.stackId !== "string" || !/^[0-9a-f]{8}$/.test(news.stackId)) failures.push({ property: "stackId", reason: "stackId must be 8 hex digits" });
    return { inputs: { ...news, repo } as FeedbackHubInputs, failures };
}

/** Another repo replaces the hub (the old one is deleted only if ours and purge is on); a missing template is added in place. */
export function diffFeedbackHub(olds: Partial<FeedbackHubOutputs>, news: Partial<FeedbackHubInputs>): pulumi.dynamic.DiffResult & { changed: string[] } {
    if (news.repo === UNKNOWN || String(news.repo).toLowerCase() !== String(olds.repo).toLowerCase()) {
        return { changes: true, replaces: ["repo"], deleteBeforeReplace: false, changed: ["repo"] };
    }
    const missing = Object.keys(TEMPLATES).filter((p) => !(olds.templates ?? []).includes(p));
    const changed = missing.length > 0 ? ["templates"] : [];
    return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false, changed };
}

interface Owner {
    name: string;
    kind: "organization" | "user";
    id: number;
    created: boolean;
}

interface TemplateState {
    present: string[];
    customized: string[];
}

function identityOf(v: Partial<FeedbackHubInputs>): StackIdentity {
    return { stack: v.stack ?? "", id: v.stackId ?? "" };
}

/** Carries this stack's marker: another stack's, or the stack-less marker of older releases, is not proof. */
function marked(description: string | undefined, me: StackIdentity): boolean {
    return markerOwner(description, me).kind === "ours";
}

function note(line: string): void {
    process.stderr.write(`${line}\n`);
}

async function ignore404<T>(p: Promise<T>): Promise<T | undefined> {
    try {
        return await p;
    } catch (err) {
        if (isForgeStatus(err, 404)) return undefined;
        throw err;
    }
}

async function getRepo(c: ForgeClientOptions, owner: string, repo: string): Promise<ForgeRepo | undefined> {
    return (await ignore404(call<ForgeRepo>(c, "GET /repos/{owner}/{repo}", { params: { owner, repo } })))?.body;
}

async function getOrg(c: ForgeClientOptions, org: string): Promise<ForgeOrg | undefined> {
    return (await ignore404(call<ForgeOrg>(c, "GET /orgs/{org}", { params: { org } })))?.body;
}

/** The owner of an existing repo: an organization, or a user account. */
async function findOwner(c: ForgeClientOptions, owner: string, me: StackIdentity): Promise<Owner> {
    const org = await getOrg(c, owner);
    return org ? { name: org.name, kind: "organization", id: org.id, created: marked(org.description, me) } : { name: owner, kind: "user", id: 0, created: false };
}

/** Finds or creates the organization. A POST is never blind-retried: each attempt looks up first. */
async function ensureOrg(c: ForgeClientOptions, name: string, me: StackIdentity): Promise<Owner> {
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
async function ensureRepo(c: ForgeClientOptions, org: string, name: string, me: StackIdentity): Promise<{ repo: ForgeRepo; created: boolean }> {
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

async function readTemplates(c: ForgeClientOptions, repo: ForgeRepo): Promise<TemplateState> {
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
async function ensureTemplates(c: ForgeClientOptions, repo: ForgeRepo): Promise<TemplateState> {
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
async function deleteOrgIfEmpty(c: ForgeClientOptions, name: string, id: number): Promise<void> {
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

function outputs(c: ForgeClientOptions, inputs: FeedbackHubInputs, org: Owner, repo: ForgeRepo, repoCreated: boolean, t: TemplateState): FeedbackHubOutputs {
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
function explainHub(err: unknown, repo: string): unknown {
    if (!(err instanceof ForgeError) || err.explanation) return err;
    if (err.status === 401) {
        return explain(err, `Forge refused the token in config hero-os-grid-deployer:forgeToken (expired or revoked?); set a valid admin token with \`pulumi config set --secret forgeToken\``);
    }
    if (err.status === 403) {
        return explain(err, `the Forge token in config hero-os-grid-deployer:forgeToken may not manage the feedback hub ${repo}; it must belong to a site administrator`);
    }
    return err;
}

/** Arguments of the FeedbackHub. */
export interface FeedbackHubArgs {
    /**
     * The public feedback repo, `"organization/name"`. The organization and repo
     * are created when missing and adopted when they exist. A new value replaces
     * the hub (the old one is kept unless this tool created it and purge is on).
     * @default "lhumina_public/feedback"
     * @example settings.feedbackRepo
     */
    repo?: pulumi.Input<string>;
    /** This stack's full name, `<organization>/<project>/<stack>`. @example settings.identity.stack */
    stack: pulumi.Input<string>;
    /** This stack's identity hash, written into the descriptions of what it creates. @example settings.identity.id */
    stackId: pulumi.Input<string>;
}

/** The stack's feedback hub: `pulumi-nodejs:dynamic/hero:FeedbackHub`. */
export class FeedbackHub extends pulumi.dynamic.Resource {
    declare readonly repo: pulumi.Output<string>;
    declare readonly org: pulumi.Output<string>;
    declare readonly ownerKind: pulumi.Output<"organization" | "user">;
    declare readonly fullName: pulumi.Output<string>;
    declare readonly repoUrl: pulumi.Output<string>;
    declare readonly private: pulumi.Output<boolean>;
    declare readonly orgCreatedByTool: pulumi.Output<boolean>;
    declare readonly repoCreatedByTool: pulumi.Output<boolean>;
    declare readonly templates: pulumi.Output<string[]>;
    declare readonly customizedTemplates: pulumi.Output<string[]>;

    constructor(name: string, args: FeedbackHubArgs, opts?: pulumi.CustomResourceOptions) {
        const outs = {
            org: undefined,
            ownerKind: undefined,
            orgId: undefined,
            fullName: undefined,
            repoId: undefined,
            repoUrl: undefined,
            private: undefined,
            orgCreatedByTool: undefined,
            repoCreatedByTool: undefined,
            templates: undefined,
            customizedTemplates: undefined,
        };
        super(SHIMS.feedbackHub, name, { ...args, repo: args.repo ?? DEFAULT_FEEDBACK_REPO, ...outs }, replaceDeletesFirst(opts), "hero", "FeedbackHub");
    }
}
