/**
 * The ForgeAccount's plain half: its inputs and outputs, the marker it writes,
 * and `check` and `diff`, which decide offline (no network) what a change does.
 */
import * as pulumi from "@pulumi/pulumi";
import { emailProblem, fullNameProblem, usernameProblem } from "../../users/limits";
import { ownerMarker, type StackIdentity } from "../ownership";

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

export function identityOf(v: Partial<ForgeAccountInputs>): StackIdentity {
    return { stack: v.stack ?? "", id: v.stackId ?? "" };
}
