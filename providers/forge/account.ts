/**
 * A demo user's Forge (Forgejo) account, as a Pulumi dynamic provider.
 *
 * Create looks the user up first. A missing user is created with the generated
 * password and marked with THIS stack's identity (profile description; see
 * providers/ownership.ts). An existing one is claimed when it carries this
 * stack's marker, or carries no stack's marker but accepts our generated
 * password (a create that crashed before marking); a claim sets our password
 * and marker, never the email or full name, which are the user's. Anything else
 * (another stack's marker, the stack-less marker of older releases, an account
 * of its own) is adopted read-only, and only when its email is the one the users
 * file gives (else the run stops for that user, naming both addresses): never patched, its password never changed, no
 * token minted or revoked, never deleted; the `managedBy` output says who
 * manages it. Accounts we own get a cockpit token minted with Basic auth as the
 * user, named per stack so that a retried create deletes only its own leftover.
 * An account that state records as ours stays ours (stacks deployed before
 * stack identities are re-marked by their next update). Every account gets
 * read access to the feedback repo.
 *
 * The admin token and Forge URL come from stack config through `configure()`
 * and live on the provider object at run time only: never in inputs, outputs
 * or the serialized provider. `check` and `diff` make no network calls.
 */
import * as pulumi from "@pulumi/pulumi";
import { SHIMS, replaceDeletesFirst } from "../shims";
import {
    ForgeClientOptions,
    ForgeSettings,
    clientOptionsFrom,
    forgeSettingsFrom,
    ForgeToken,
    deleteToken,
    deleteUser,
    editUser,
    explain,
    getUser,
    isCollaborator,
    isForgeStatus,
    listTokens,
} from "./client";
import { managedElsewhere, markerOwner, withOwnerMarker } from "../ownership";
import { type ForgeAccountInputs, type ForgeAccountOutputs, checkForgeAccount, diffForgeAccount, identityOf } from "./account-rules";
import { ensureAccount, mintToken, grantFeedback, outputs, explainForge } from "./account-steps";

// The plain half and the steps live beside this file; what other modules import from here stays here.
export * from "./account-rules";
export { refuseOtherPerson } from "./account-steps";

interface ForgeAccountProvider extends pulumi.dynamic.ResourceProvider<ForgeAccountInputs, ForgeAccountOutputs> {
    settings?: ForgeSettings;
    client(): ForgeClientOptions;
}

/** The implementation behind the ForgeAccount shim (providers/shims.ts); ordinary code, not serialized. */
export const forgeAccountProvider: ForgeAccountProvider = {
    settings: undefined,

    async configure(req) {
        this.settings = forgeSettingsFrom(req.config, "purgeAccountsOnTeardown");
    },

    client() {
        return clientOptionsFrom(this.settings);
    },

    async check(_olds, news) {
        return checkForgeAccount(news);
    },

    async diff(_id, olds, news) {
        return diffForgeAccount(olds, news);
    },

    async create(inputs) {
        const c = this.client();
        try {
            const { user, owned, managedBy } = await ensureAccount(c, inputs);
            const feedbackAccess = await grantFeedback(c, inputs.feedbackRepo, user.login);
            const token = owned ? await mintToken(c, { username: user.login, password: inputs.password }, identityOf(inputs)) : undefined;
            return { id: user.login, outs: { ...outputs(inputs, user, owned, token, feedbackAccess), managedBy } };
        } catch (err) {
            throw explainForge(err, inputs);
        }
    },

    async read(id, stored) {
        try {
            const c = this.client();
            const props = stored as ForgeAccountOutputs;
            const user = await getUser(c, props.login || id);
            if (!user || (props.userId && user.id !== props.userId)) {
                // Deleted, or deleted and re-created by someone else: ours is gone.
                return { id: "", props: {} as ForgeAccountOutputs };
            }
            // email and fullName stay what this stack last set: the user's own changes on the Forge are theirs,
            // and reading them into state would make the next update "repair" (revert) them.
            const outs: ForgeAccountOutputs = { ...props, login: user.login, userId: user.id };
            if (props.createdByTool) {
                if (props.tokenId) {
                    try {
                        const tokens = await listTokens(c, { username: user.login, password: props.password });
                        if (!tokens.some((t) => t.id === props.tokenId)) {
                            Object.assign(outs, { token: "", tokenId: 0, tokenNote: `token ${props.tokenId} was revoked outside the tool; the next update mints a new one` });
                        }
                    } catch (err) {
                        // 401: the user changed their password; the token can't be checked, so it stays as recorded.
                        if (!isForgeStatus(err, 401)) {
                            throw err;
                        }
                    }
                }
            }
            outs.feedbackAccess = await isCollaborator(c, props.feedbackRepo, user.login);
            return { id: user.login, props: outs };
        } catch (err) {
            throw explainForge(err, stored ?? {});
        }
    },

    async update(_id, olds, news) {
        try {
            const c = this.client();
            const login = olds.login;
            let token: ForgeToken | undefined;
            if (olds.createdByTool) {
                const patch: Record<string, unknown> = {};
                if (news.email !== olds.email) patch.email = news.email;
                if (news.fullName !== olds.fullName) patch.full_name = news.fullName;
                if (news.password !== olds.password) patch.password = news.password;
                if (news.stackId !== olds.stackId) {
                    // State says this stack created it (before stack identities, or under another stack name): mark it as ours now.
                    const live = await getUser(c, login);
                    patch.description = withOwnerMarker(live?.description ?? "Hero OS demo account", identityOf(news));
                }
                if (Object.keys(patch).length > 0) {
                    await editUser(c, login, patch);
                }
                if (!olds.tokenId) {
                    token = await mintToken(c, { username: login, password: news.password }, identityOf(news));
                }
            }
            const feedbackAccess =
                olds.feedbackAccess && news.feedbackRepo === olds.feedbackRepo ? true : await grantFeedback(c, news.feedbackRepo, login);
            const kept = token ? undefined : { id: olds.tokenId, sha1: olds.token, note: olds.tokenNote };
            const outs = { ...outputs(news, { id: olds.userId, login }, olds.createdByTool, token, feedbackAccess), managedBy: olds.managedBy ?? "" };
            if (kept && olds.createdByTool) {
                Object.assign(outs, { token: kept.sha1, tokenId: kept.id, tokenNote: kept.note });
            }
            return { outs };
        } catch (err) {
            throw explainForge(err, news);
        }
    },

    async delete(id, props) {
        try {
            const c = this.client();
            const login = props.login || id;
            const user = await getUser(c, login);
            if (!user || (props.userId && user.id !== props.userId)) {
                return; // already gone, or the name now belongs to another account: nothing of ours to delete
            }
            const owner = markerOwner(user.description, identityOf(props));
            if (props.createdByTool && owner.kind === "other") {
                // State says ours, but another stack has marked it since: it is theirs now. Leave it and its tokens.
                process.stderr.write(`${login}: keeping Forge account: it is ${managedElsewhere(owner)}\n`);
                return;
            }
            if (props.createdByTool && this.settings?.purge) {
                await deleteUser(c, login, true); // its tokens go with it
                return;
            }
            if (props.createdByTool && props.tokenId) {
                try {
                    await deleteToken(c, { username: login, password: props.password }, props.tokenId);
                } catch (err) {
                    if (isForgeStatus(err, 401)) {
                        throw explain(
                            err,
                            `cannot revoke Forge token ${props.tokenId} of "${login}": Forge refused the password this stack set, ` +
                                `so the user probably changed it; revoke that token in Forge (user settings, Applications) and run again, ` +
                                `or drop this resource from the stack with \`pulumi state delete\``,
                        );
                    }
                    throw err;
                }
            }
        } catch (err) {
            throw explainForge(err, props);
        }
    },
};

/** Arguments of a ForgeAccount. */
export interface ForgeAccountArgs {
    /** Forge login. A new value replaces the account (delete first). @example "alice" */
    username: pulumi.Input<string>;
    /** Primary email; patched in place on accounts the tool created. */
    email: pulumi.Input<string>;
    /** Display name; patched in place on accounts the tool created. */
    fullName: pulumi.Input<string>;
    /**
     * Password of an account the tool creates, from `random.RandomPassword` (secret).
     * A new value rotates it with PATCH, only on accounts the tool created.
     */
    password: pulumi.Input<string>;
    /** Repo the user files feedback in, `"owner/repo"`. @default config feedbackRepo, "lhumina_public/feedback" */
    feedbackRepo: pulumi.Input<string>;
    /** This stack's full name, `<organization>/<project>/<stack>`. @example settings.identity.stack */
    stack: pulumi.Input<string>;
    /** This stack's identity hash, written into the account's marker and the token's name. @example settings.identity.id */
    stackId: pulumi.Input<string>;
}

/** A demo user's Forge account: `pulumi-nodejs:dynamic/hero:ForgeAccount`. */
export class ForgeAccount extends pulumi.dynamic.Resource {
    declare readonly username: pulumi.Output<string>;
    declare readonly email: pulumi.Output<string>;
    declare readonly fullName: pulumi.Output<string>;
    declare readonly feedbackRepo: pulumi.Output<string>;
    declare readonly login: pulumi.Output<string>;
    declare readonly userId: pulumi.Output<number>;
    declare readonly createdByTool: pulumi.Output<boolean>;
    /** The cockpit's Forge token (secret); "" for an adopted account. */
    declare readonly token: pulumi.Output<string>;
    declare readonly tokenId: pulumi.Output<number>;
    declare readonly tokenNote: pulumi.Output<string>;
    declare readonly feedbackAccess: pulumi.Output<boolean>;
    /** "" when this stack owns the account; else who manages it. */
    declare readonly managedBy: pulumi.Output<string>;

    constructor(name: string, args: ForgeAccountArgs, opts?: pulumi.CustomResourceOptions) {
        const outs = { login: undefined, userId: undefined, createdByTool: undefined, token: undefined, tokenId: undefined, tokenNote: undefined, feedbackAccess: undefined, managedBy: undefined };
        super(
            SHIMS.forgeAccount,
            name,
            { ...args, ...outs },
            { ...replaceDeletesFirst(opts), additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "password", "token"] },
            "hero",
            "ForgeAccount",
        );
    }
}
