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
import { ForgeClientOptions, ForgeSettings, call, clientOptionsFrom, forgeSettingsFrom, splitRepo } from "./client";
import { DEFAULT_FEEDBACK_REPO, type FeedbackHubInputs, type FeedbackHubOutputs, checkFeedbackHub, diffFeedbackHub, type Owner, identityOf, marked } from "./feedback-hub-rules";
import { note, ignore404, getRepo, findOwner, ensureOrg, ensureRepo, readTemplates, ensureTemplates, deleteOrgIfEmpty, outputs, explainHub } from "./feedback-hub-steps";

// The plain half and the steps live beside this file; what other modules import from here stays here.
export * from "./feedback-hub-rules";

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
