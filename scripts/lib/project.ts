/**
 * What the admin commands know about the project and a stack, read from files
 * (Pulumi.yaml, Pulumi.<stack>.yaml, the users file, the Hero Compute binding) and from the stack outputs.
 * Nothing here decrypts a secret or calls the network.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { defaultNamePrefix } from "../../components/naming";
import { type Binding, loadBinding } from "../../providers/compute/bind";
import { loadUsersFile, UsersFileError } from "../../users/load";
import { readYaml } from "../../users/yaml-read";

/** The users file when the stack config does not name one (as in Pulumi.yaml). */
export const DEFAULT_USERS_FILE = "users/users.yaml";

/** One user's entry in the stack output `environments` (plain). */
export interface EnvironmentOutput {
    cockpitUrl: string;
    forgeUrl: string;
    forgeLogin: string;
    vmId: string;
    computeEndpoint: string;
    node: number;
    myceliumIp: string;
    gatewayFqdn: string;
    services: string[];
    expires?: string;
    /** Absent on stacks deployed before these fields existed. */
    forgeTokenNote?: string;
    sshHostKey?: string;
    /** The Forge login's client id (the front door's OAuth2 application). */
    oauthClientId?: string;
    bootstrap?: string;
}

/** One user's entry in the stack output `credentials` (secret). */
export interface CredentialsOutput {
    password: string;
    sshPrivateKey: string;
    /** "" when the Forge account was adopted and the user brings their own token. */
    forgeToken: string;
}

/** The project name from Pulumi.yaml: the middle part of every URN and the config namespace. */
export function projectName(projectDir: string): string {
    const file = path.join(projectDir, "Pulumi.yaml");
    const doc = parse(fs.readFileSync(file, "utf8")) as { name?: unknown } | null;
    if (typeof doc?.name !== "string" || doc.name === "") {
        throw new Error(`${file} has no project name`);
    }
    return doc.name;
}

/** The URN of a user's `hero:demo:Environment` component: its name is the username, lowercased. */
export function environmentUrn(stack: string, project: string, username: string): string {
    return `urn:pulumi:${stack}::${project}::hero:demo:Environment::${username.toLowerCase()}`;
}

/** Plain (non-secret) values of `Pulumi.<stack>.yaml`'s config, by full key; {} when the file is absent. */
export function stackConfig(projectDir: string, stack: string): Record<string, unknown> {
    const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        return {};
    }
    const doc = parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
    return doc?.config ?? {};
}

/** The stack's Hero Compute binding: config `computeBinding` (relative to the project, or absolute), else the default. */
export function stackBinding(projectDir: string, stack: string): Binding & { file: string } {
    const configured = stackSettings(projectDir, stack).get("computeBinding");
    return loadBinding(configured ? path.resolve(projectDir, configured) : undefined);
}

/** The stack config file's keys, un-namespaced (`computeUrl`). */
export interface StackSettings {
    /** A plain value: text, numbers and booleans as text; absent, null or secret (encrypted) as undefined. */
    get(key: string): string | undefined;
    /** Whether the key is set at all, secret or not. */
    has(key: string): boolean;
}

/** What `Pulumi.<stack>.yaml` sets, read once; no secret is decrypted. */
export function stackSettings(projectDir: string, stack: string | undefined): StackSettings {
    const project = projectName(projectDir);
    const config = stack === undefined ? {} : stackConfig(projectDir, stack);
    return {
        get: (key) => {
            const v = config[`${project}:${key}`];
            return v === undefined || v === null || typeof v === "object" ? undefined : String(v);
        },
        has: (key) => config[`${project}:${key}`] !== undefined,
    };
}

export interface DeclaredUsers {
    /** The users file as configured (relative to the project, or absolute). */
    displayPath: string;
    /** Every username in the file, deployed or expired, as written. */
    usernames: string[];
    /** Set when the file could not be read or validated: one line saying why. */
    problem?: string;
    /**
     * False when not even its `username` fields could be read (unreadable
     * file, YAML syntax error): then `usernames` is empty and says nothing
     * about who is in the file.
     */
    readable: boolean;
}

/**
 * The usernames declared in the stack's users file (config `usersFile`). The
 * validated loader is the source of truth; when the file does not validate, its
 * `username` fields are still read, so that a broken entry elsewhere does not
 * stop a teardown.
 */
export function declaredUsers(projectDir: string, stack: string): DeclaredUsers {
    const settings = stackSettings(projectDir, stack);
    const displayPath = settings.get("usersFile") || DEFAULT_USERS_FILE;
    // Only the prefix's length matters here (grid-name limits), and the default's length does not depend on its hash.
    const namePrefix = settings.get("namePrefix") ?? defaultNamePrefix(stack.split("/").pop() ?? stack, "0000");
    const file = path.resolve(projectDir, displayPath);
    try {
        const loaded = loadUsersFile(file, { displayPath, namePrefix });
        return { displayPath, usernames: [...loaded.users, ...loaded.expired].map((u) => u.username), readable: true };
    } catch (err) {
        if (!(err instanceof UsersFileError)) {
            throw err;
        }
        const problem = err.problems.length === 1 ? err.problems[0] : `${err.problems.length} problems, the first: ${err.problems[0]}`;
        const raw = rawUsernames(file);
        return { displayPath, usernames: raw ?? [], problem, readable: raw !== undefined };
    }
}

/** The `users[].username` strings of a YAML file that may not validate; undefined when they cannot be read at all. */
function rawUsernames(file: string): string[] | undefined {
    let data: unknown;
    try {
        // The loader's own reader: never throws, and takes aliases and large files the loader takes.
        data = readYaml(fs.readFileSync(file, "utf8")).data;
    } catch {
        return undefined;
    }
    const users = (data as { users?: unknown } | null | undefined)?.users;
    if (!Array.isArray(users)) {
        return undefined;
    }
    return users.map((u) => (u as { username?: unknown } | null)?.username).filter((u): u is string => typeof u === "string");
}

/** The warning an admin command prints when the users file does not validate, saying what it can still tell. */
export function notLoadingWarning(command: string, declared: DeclaredUsers): string | undefined {
    if (declared.problem === undefined) {
        return undefined;
    }
    const then = declared.readable ? "its usernames are taken as written" : "its usernames cannot be read, so nothing is known of who is in it";
    return `${command}: warning: the users file does not load (${declared.problem}); ${then}`;
}

/** The stack output `environments`, or {} when the stack has none yet. */
export function environmentsOutput(outputs: Record<string, unknown>): Record<string, EnvironmentOutput> {
    const value = outputs.environments;
    if (value === undefined || value === null) {
        return {};
    }
    if (typeof value !== "object" || Array.isArray(value)) {
        throw new Error("the stack output `environments` is not an object");
    }
    return value as Record<string, EnvironmentOutput>;
}

/** The key under which `name` appears in `names`, ignoring case (Forge logins ignore case), or undefined. */
export function findName(names: Iterable<string>, name: string): string | undefined {
    const wanted = name.toLowerCase();
    for (const n of names) {
        if (n.toLowerCase() === wanted) {
            return n;
        }
    }
    return undefined;
}

/** The message refusing a username that is neither in the users file nor in the stack's environments. */
export function unknownUserMessage(command: string, username: string, stack: string, declared: DeclaredUsers, deployed: string[]): string {
    const known = [...new Set([...declared.usernames, ...deployed])].sort();
    const where = declared.readable
        ? `not in ${declared.displayPath} and not in the \`environments\` output of stack ${stack}`
        : `not in the \`environments\` output of stack ${stack}, and ${declared.displayPath} does not load, so whether they are in it cannot be told`;
    return [
        `${command}: unknown user "${username}": ${where}. Nothing was run.`,
        known.length > 0 ? `Known users: ${known.join(", ")}.` : "This stack knows no users yet.",
    ].join("\n");
}
