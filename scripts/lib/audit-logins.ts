/**
 * The audit's judgement of the Forge logins (OAuth2 applications, one per
 * environment, providers/forge/oauth-app.ts), pure. They belong to the admin
 * whose token the stack holds; their names carry the stack's marker, the proof
 * of ownership. An application with this stack's marker and no state record is
 * an orphan (a create whose state write was lost); a record whose application is
 * gone is listed as gone. Other stacks' applications are not this audit's to judge.
 */
import { markerOwner, type StackIdentity } from "../../providers/ownership";

/** A login as the state records it (plain fields; the client secret is never read). */
export interface LoginRecord {
    username: string;
    appId: number;
    name: string;
    clientId: string;
}

/** An OAuth2 application as the Forge lists it (`GET /user/applications/oauth2`). */
export interface LiveApp {
    id: number;
    name: string;
    client_id: string;
}

export interface LoginFinding {
    kind: "login";
    name: string;
    /** The application's id on the Forge. */
    id?: string;
    why: string;
}

export interface LoginAudit {
    counts: { inState: number; orphans: number; gone: number };
    orphans: LoginFinding[];
    gone: LoginFinding[];
}

export function auditLogins(records: readonly LoginRecord[], apps: readonly LiveApp[], identity: StackIdentity): LoginAudit {
    const byId = new Map(apps.map((a) => [a.id, a]));
    const recorded = new Set<number>();
    const gone: LoginFinding[] = [];
    for (const r of records) {
        const app = byId.get(r.appId);
        if (app && app.client_id === r.clientId) recorded.add(app.id);
        else gone.push({ kind: "login", name: r.name, id: String(r.appId), why: `${r.username}'s Forge login is gone from the Forge${app ? " (its id now has another client id)" : ""}` });
    }
    const orphans: LoginFinding[] = apps
        .filter((a) => !recorded.has(a.id) && markerOwner(a.name, identity).kind === "ours")
        .map((a) => ({ kind: "login", name: a.name, id: String(a.id), why: "carries this stack's marker, but no state record (a create whose state write was lost): a way in to nothing, deleted with --delete-orphans" }));
    return { counts: { inState: recorded.size, orphans: orphans.length, gone: gone.length }, orphans, gone };
}
