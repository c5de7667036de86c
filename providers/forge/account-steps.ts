/**
 * The ForgeAccount's steps on the Forge: find, claim, adopt or create the account,
 * mint the cockpit's token, grant feedback access, and explain what the Forge refused.
 * Called by the provider in providers/forge/account.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import {
    BasicAuth,
    ForgeClientOptions,
    ForgeError,
    ForgeToken,
    ForgeUser,
    addCollaborator,
    backoffMs,
    createToken,
    createUser,
    deleteToken,
    editUser,
    explain,
    getUser,
    isCollaborator,
    isForgeStatus,
    listTokens,
    pause,
    whoAmI,
} from "./client";
import { cockpitTokenName, managedElsewhere, markerOwner, type StackIdentity } from "../ownership";
import { accountDescription, TOKEN_SCOPES, type ForgeAccountInputs, type ForgeAccountOutputs, identityOf } from "./account-rules";

type Ensured = { user: ForgeUser; owned: boolean; managedBy: string };

/** Finds, claims, adopts or creates the account. Creates are never blind-retried: each attempt looks up first. */
export async function ensureAccount(c: ForgeClientOptions, inputs: ForgeAccountInputs): Promise<Ensured> {
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
export async function mintToken(c: ForgeClientOptions, basic: BasicAuth, identity: StackIdentity): Promise<ForgeToken> {
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
export async function grantFeedback(c: ForgeClientOptions, repo: string, login: string): Promise<boolean> {
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

export function outputs(inputs: ForgeAccountInputs, user: Pick<ForgeUser, "id" | "login">, owned: boolean, token: ForgeToken | undefined, feedbackAccess: boolean): Omit<ForgeAccountOutputs, "managedBy"> {
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
export function explainForge(err: unknown, ctx: Partial<ForgeAccountInputs>): unknown {
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
