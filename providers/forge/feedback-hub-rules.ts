/**
 * The FeedbackHub's plain half: the repo's default, the descriptions that carry the
 * stack's marker, the issue templates, its inputs and outputs, and `check` and
 * `diff`, which decide offline (no network) what a change does.
 */
import * as pulumi from "@pulumi/pulumi";
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

export interface ForgeOrg {
    id: number;
    name: string;
    description?: string;
}

export interface ForgeRepo {
    id: number;
    name: string;
    full_name: string;
    description?: string;
    private?: boolean;
    empty?: boolean;
    html_url?: string;
    owner?: { login?: string };
}

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

export interface Owner {
    name: string;
    kind: "organization" | "user";
    id: number;
    created: boolean;
}

export interface TemplateState {
    present: string[];
    customized: string[];
}

export function identityOf(v: Partial<FeedbackHubInputs>): StackIdentity {
    return { stack: v.stack ?? "", id: v.stackId ?? "" };
}

/** Carries this stack's marker: another stack's, or the stack-less marker of older releases, is not proof. */
export function marked(description: string | undefined, me: StackIdentity): boolean {
    return markerOwner(description, me).kind === "ours";
}
