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
    BasicAuth,
    ForgeClientOptions,
    ForgeSettings,
    clientOptionsFrom,
    forgeSettingsFrom,
    ForgeError,
    ForgeToken,
    ForgeUser,
    addCollaborator,
    backoffMs,
    createToken,
    createUser,
    deleteToken,
    deleteUser,
    editUser,
    explain,
    getUser,
    isCollaborator,
    isForgeStatus,
    listTokens,
    pause,
    whoAmI,
} from "./client";
import { emailProblem, fullNameProblem, usernameProblem } from "../../users/limits";
import { cockpitTokenName, managedElsewhere, markerOwner, ownerMarker, withOwnerMarker, type StackIdentity } from "../ownership";

/** The profile description of an account this stack creates. */
export function accountDescription(identity: StackIdentity): string {
    return `Hero OS demo account ${ownerMarker(identity)}`;
}
/** Filing feedback issues, reading repositories and the user: what the cockpit needs. */
export const TOKEN_SCOPES = ["write:issue", "read:repository", "read:user"];
/** Pulumi's placeholder for a value not known during preview. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** What the provider receives: plain values. */
export interface ForgeAccountInputs {
    username: string;
    email: string;
    fullName: string;
    password: string;
    feedbackRepo: string;
    /** This stack's full name, `<organization>/<project>/<stack>`; absent in state written before stack identities. */
    stack: string;
    /** This stack's identity hash (providers/ownership.ts). */
    stackId: string;
}

export interface ForgeAccountOutputs extends ForgeAccountInputs {
    /** The login as Forge spells it. */
    login: string;
    userId: number;
    /** True when this tool created the account (or proved it did); false when it adopted someone else's. */
    createdByTool: boolean;
    /** The cockpit token text; "" when none was minted. */
    token: string;
    /** The token's id, or 0. */
    tokenId: number;
    tokenNote: string;
    /** Whether the user is a collaborator of the feedback repo. */
    feedbackAccess: boolean;
    /** "" when this stack owns the account; else who does, e.g. "managed by stack organization/hero-os-grid-deployer/dev (3f9a1c2b)". */
    managedBy: string;
}

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

/** Validates and normalises inputs, offline. Values unknown during preview pass. */
export function checkForgeAccount(news: Partial<ForgeAccountInputs>): pulumi.dynamic.CheckResult<ForgeAccountInputs> {
    const inputs = { ...news } as ForgeAccountInputs;
    const failures: pulumi.dynamic.CheckFailure[] = [];
    // The users file checks username, email and fullName with these same functions (users/limits.ts).
    const rules: Array<[keyof ForgeAccountInputs, (v: string) => string | undefined]> = [
        ["username", usernameProblem],
        ["email", emailProblem],
        ["fullName", fullNameProblem],
        ["password", (v) => (v.length > 0 ? undefined : "password must not be empty")],
        ["feedbackRepo", (v) => (/^[\w.-]+\/[\w.-]+$/.test(v) ? undefined : 'feedbackRepo must be "owner/repo"')],
        ["stack", (v) => (/^\S+\/\S+\/\S+$/.test(v) ? undefined : 'stack must be "<organization>/<project>/<stack>"')],
        ["stackId", (v) => (/^[0-9a-f]{8}$/.test(v) ? undefined : "stackId must be 8 hex digits")],
    ];
    for (const [key, rule] of rules) {
        const raw = news[key];
        if (raw === UNKNOWN) continue;
        if (typeof raw !== "string") {
            failures.push({ property: key, reason: `${key} is required` });
            continue;
        }
        const value = key === "password" ? raw : raw.trim();
        inputs[key] = value;
        const reason = rule(value);
        if (reason) failures.push({ property: key, reason });
    }
    return { inputs, failures };
}

/**
 * What an update changes, offline. A new username replaces the account (delete
 * first); a new email, full name or password in the program (the users file, a
 * replaced random password) is patched in place on accounts we own and ignored
 * on adopted ones. State keeps what this stack last set, never what refresh
 * sees, so the user's own changes on the Forge show no change and are never
 * reverted. A token revoked outside the tool or lost feedback access (seen by
 * refresh) is repaired by an update.
 */
export function diffForgeAccount(olds: Partial<ForgeAccountOutputs>, news: Partial<ForgeAccountInputs>): pulumi.dynamic.DiffResult & { changed: string[] } {
    const differs = (k: keyof ForgeAccountInputs) => news[k] === UNKNOWN || news[k] !== olds[k];
    if (news.username === UNKNOWN || String(news.username).toLowerCase() !== String(olds.username).toLowerCase()) {
        return { changes: true, replaces: ["username"], deleteBeforeReplace: true, changed: ["username"] };
    }
    // A new stack identity re-marks an account this stack owns; on an adopted one it changes nothing but the record.
    const keys: Array<keyof ForgeAccountInputs> = olds.createdByTool ? ["email", "fullName", "password", "feedbackRepo", "stackId"] : ["feedbackRepo"];
    const changed: string[] = keys.filter(differs);
    if (olds.createdByTool && !olds.tokenId) changed.push("token");
    if (olds.feedbackAccess === false && !changed.includes("feedbackRepo")) changed.push("feedbackAccess");
    return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false, changed };
}

type Ensured = { user: ForgeUser; owned: boolean; managedBy: string };

function identityOf(v: Partial<ForgeAccountInputs>): StackIdentity {
    return { stack: v.stack ?? "", id: v.stackId ?? "" };
}

/** Finds, claims, adopts or creates the account. Creates are never blind-retried: each attempt looks up first. */
async function ensureAccount(c: ForgeClientOptions, inputs: ForgeAccountInputs): Promise<Ensured> {
    for (let attempt = 0; ; attempt++) {
        const existing = await getUser(c, inputs.username);
        if (existing) {
            return claimOrAdopt(c, existing, inputs);
        }
        try {
            const created = await createUser(c, {
                username: inputs.username,
                email: inputs.email,
                full_name: inputs.fullName,
                password: inputs.password,
                must_change_password: false,
                send_notify: false,
            });
            return { user: await editUser(c, created.login, { description: accountDescription(identityOf(inputs)) }), owned: true, managedBy: "" };
        } catch (err) {
            const raced = isForgeStatus(err, 422) && /already exists/i.test(err.forgeMessage);
            if (err instanceof ForgeError && (err.retryable || raced) && attempt < 3) {
                await pause(backoffMs(c, attempt)); // the answer was lost or the name was just taken: look again
                continue;
            }
            throw explainForge(err, inputs);
        }
    }
}

async function claimOrAdopt(c: ForgeClientOptions, user: ForgeUser, inputs: ForgeAccountInputs): Promise<Ensured> {
    const owner = markerOwner(user.description, identityOf(inputs));
    // Another stack's marker is final. Without one, an account accepting the password this
    // stack generated is ours: our own create crashed before marking it.
    const ours = owner.kind === "ours" || (owner.kind !== "other" && (await passwordWorks(c, user.login, inputs.password)));
    if (ours) {
        // Our password (the handout gives it, the token is minted with it) and marker. The email and
        // full name stay as they are: after creation they are the user's own.
        const patch: Record<string, unknown> = { password: inputs.password, must_change_password: false, description: accountDescription(identityOf(inputs)) };
        const patched = await editUser(c, user.login, patch).catch((err) => {
            throw explainForge(err, inputs);
        });
        return { user: patched, owned: true, managedBy: "" };
    }
    refuseOtherPerson(user, inputs);
    return { user, owned: false, managedBy: `${user.login} is ${managedElsewhere(owner)}` };
}

/**
 * An account this stack did not create is adopted only when its email is the users file's: a
 * mistyped username matching someone else's account would hand that person the VM's front door.
 */
export function refuseOtherPerson(user: Pick<ForgeUser, "login" | "email">, inputs: Pick<ForgeAccountInputs, "username" | "email">): void {
    const live = user.email?.trim() ?? "";
    if (live !== "" && live.toLowerCase() === inputs.email.trim().toLowerCase()) return;
    const shown = live === "" ? "no email Forge shows" : `email ${live}`;
    throw new Error(
        `${inputs.username}: Forge account "${user.login}" already exists with ${shown}, but the users file gives ${inputs.email}, ` +
            `so it may be someone else's account; it was not adopted and nothing was changed on it. ` +
            `If it is this person's account, set their email in the users file to ${live || "the account's"} (or theirs on the Forge to ${inputs.email}) and run pulumi up again; ` +
            `if it is not, give this user another username in the users file.`,
    );
}

async function passwordWorks(c: ForgeClientOptions, login: string, password: string): Promise<boolean> {
    try {
        const me = await whoAmI(c, { username: login, password });
        return me.login.toLowerCase() === login.toLowerCase();
    } catch (err) {
        if (isForgeStatus(err, 401)) return false;
        if (isForgeStatus(err, 403) && /change your password/i.test(err.forgeMessage)) return true;
        throw err;
    }
}

/**
 * Deletes a leftover token of this stack (by its per-stack name), then mints one. A lost
 * answer means a lost token text: look, delete, mint again. Other stacks' tokens are left alone.
 */
async function mintToken(c: ForgeClientOptions, basic: BasicAuth, identity: StackIdentity): Promise<ForgeToken> {
    const name = cockpitTokenName(identity);
    for (let attempt = 0; ; attempt++) {
        try {
            for (const t of await listTokens(c, basic)) {
                if (t.name === name) await deleteToken(c, basic, t.id);
            }
            const token = await createToken(c, basic, name, TOKEN_SCOPES);
            if (!token.sha1) throw new ForgeError("POST /users/{username}/tokens", 201, "the answer carries no token text", false);
            return token;
        } catch (err) {
            const leftover = isForgeStatus(err, 400) && /been used/i.test(err.forgeMessage);
            if (err instanceof ForgeError && (err.retryable || leftover) && attempt < 3) {
                await pause(backoffMs(c, attempt));
                continue;
            }
            throw explainForge(err, { username: basic.username });
        }
    }
}

/** Read access to the feedback repo: enough to file issues. An existing (maybe higher) permission is left alone. */
async function grantFeedback(c: ForgeClientOptions, repo: string, login: string): Promise<boolean> {
    try {
        if (!(await isCollaborator(c, repo, login))) {
            await addCollaborator(c, repo, login, "read");
        }
        return true;
    } catch (err) {
        if (isForgeStatus(err, 404)) {
            throw explain(err, `feedback repo "${repo}" was not found on Forge; create it, or set config hero-os-grid-deployer:feedbackRepo, and run again`);
        }
        throw explainForge(err, { username: login });
    }
}

function outputs(inputs: ForgeAccountInputs, user: Pick<ForgeUser, "id" | "login">, owned: boolean, token: ForgeToken | undefined, feedbackAccess: boolean): Omit<ForgeAccountOutputs, "managedBy"> {
    const tokenNote = token
        ? `token "${cockpitTokenName(identityOf(inputs))}" (id ${token.id}) minted for ${user.login} with scopes ${TOKEN_SCOPES.join(", ")}`
        : owned
          ? "no token yet; the next update mints one"
          : `${user.login} is an existing Forge account this stack did not create, so no token was minted: the user brings their own Forge token through the cockpit setting`;
    return {
        username: inputs.username,
        email: inputs.email,
        fullName: inputs.fullName,
        password: inputs.password,
        feedbackRepo: inputs.feedbackRepo,
        stack: inputs.stack,
        stackId: inputs.stackId,
        login: user.login,
        userId: user.id,
        createdByTool: owned,
        token: token?.sha1 ?? "",
        tokenId: token?.id ?? 0,
        tokenNote,
        feedbackAccess,
    };
}

/** Turns Forgejo's 400/401/403/422 answers into something an admin can act on. */
function explainForge(err: unknown, ctx: Partial<ForgeAccountInputs>): unknown {
    if (!(err instanceof ForgeError) || err.explanation) return err;
    const m = err.forgeMessage;
    const who = `"${ctx.username}"`;
    if (err.status === 422 && /already exists/i.test(m)) {
        return explain(err, `username ${who} belongs to an account this tool did not create; it is adopted as is on the next run, or give the user another username in the users file`);
    }
    if ((err.status === 422 || err.status === 400) && /e-?mail already in use|EmailUsed/i.test(m)) {
        return explain(err, `email "${ctx.email}" of ${who} is already used by another Forge account; give ${who} another email in the users file, or that account's login as username to adopt it`);
    }
    if ((err.status === 422 || err.status === 400) && /e-?mail invalid|EmailInvalid|unsupported character/i.test(m)) {
        return explain(err, `email "${ctx.email}" of ${who} is refused by Forge; fix it in the users file`);
    }
    if (err.status === 422 && /name is reserved|name is invalid|pattern/i.test(m)) {
        return explain(err, `username ${who} is not allowed by Forge; give the user another username in the users file`);
    }
    if (err.status === 400 && /password/i.test(m)) {
        return explain(err, `password rejected by Forge policy: ${m}; make the generated password (random.RandomPassword length and character classes) meet the Forge's password rules, then run again`);
    }
    if (err.status === 403 && /change your password/i.test(m)) {
        return explain(err, `Forge account ${who} must change its password before the API accepts it; clear "must change password" for it in Forge's site administration`);
    }
    if (err.status === 403) {
        return explain(err, `the Forge token in config hero-os-grid-deployer:forgeToken is not allowed to do this; it must belong to a site administrator`);
    }
    if (err.status === 401 && !/Basic|auth required/i.test(m) && !err.route.includes("/tokens") && err.route !== "GET /user") {
        return explain(err, `Forge refused the token in config hero-os-grid-deployer:forgeToken (expired or revoked?); set a valid admin token with \`pulumi config set --secret forgeToken\``);
    }
    return err;
}

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
