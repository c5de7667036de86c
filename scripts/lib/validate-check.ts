/**
 * What `npm run validate` checks, with no Pulumi CLI, credentials or network:
 * the stack's config file (Pulumi.<stack>.yaml, when there is one) for the two
 * keys the users file depends on, `usersFile` and `namePrefix`, then the users
 * file through the loader `pulumi up` uses (users/load.ts), with its cross-checks.
 */
import * as fs from "fs";
import * as path from "path";
import { LineCounter, parseDocument } from "yaml";
import { defaultNamePrefix } from "../../components/naming";
import { stackIdentity } from "../../providers/ownership";
import { loadUsersFile, UsersFileError } from "../../users/load";
import type { DemoUser } from "../../users/types";

/** The users file when the stack config names none (as in components/settings.ts). */
export const DEFAULT_USERS_FILE = "users/users.yaml";
/** Where a new admin copies users from. */
export const EXAMPLE_USERS_FILE = "users/users.example.yaml";

export interface StackCheck {
    stack: string;
    /** The users file as given or configured, as every message names it. */
    displayPath: string;
    /** `Pulumi.<stack>.yaml` when it exists, else null (the defaults apply). */
    configFile: string | null;
    namePrefix: string;
    /** Problems of the config file, `file:line:col: …`. */
    configProblems: string[];
    /** Problems of the users file, `file:line:col: …`, in file order. */
    problems: string[];
    users: DemoUser[];
    expired: DemoUser[];
    expiringSoon: DemoUser[];
    warnings: string[];
}

/**
 * Checks the users file of `stack` (or `file`, relative to the working directory).
 * The default namePrefix needs the stack's organization: the one in a qualified
 * name (`org/stack`, `org/project/stack`), else the file backend's `organization`.
 */
export function checkStack(projectDir: string, stack: string, file: string | undefined, today?: string): StackCheck {
    const parts = stack.split("/");
    const short = parts[parts.length - 1];
    const config = readStackConfig(projectDir, short);
    const project = config.project;
    const org = parts.length > 1 ? parts[0] : "organization";
    const identity = stackIdentity(org, parts.length === 3 ? parts[1] : project, short);
    const configured = config.get("namePrefix");
    let namePrefix = configured ?? defaultNamePrefix(short, identity.id);
    const configProblems = [...config.problems];
    if (!/^[a-z0-9]{0,12}$/.test(namePrefix)) {
        configProblems.push(`${config.at("namePrefix")}: config ${project}:namePrefix must be at most 12 lowercase letters or digits, not "${namePrefix}"`);
        namePrefix = defaultNamePrefix(short, identity.id);
    }
    const displayPath = file ?? config.get("usersFile") ?? DEFAULT_USERS_FILE;
    const absolute = file !== undefined ? path.resolve(displayPath) : path.resolve(projectDir, displayPath);
    const base = { stack: short, displayPath, configFile: config.file, namePrefix, configProblems };
    try {
        const loaded = loadUsersFile(absolute, { displayPath, namePrefix, today });
        return { ...base, problems: [], ...loaded };
    } catch (err) {
        if (!(err instanceof UsersFileError)) throw err;
        return { ...base, problems: err.problems, users: [], expired: [], expiringSoon: [], warnings: [] };
    }
}

/** What to do with a users file that lists no user. */
export function emptyFileAdvice(displayPath: string, stack: string, forDeploy: boolean): string[] {
    const lines = [
        `validate: ${displayPath} lists no user, so pulumi up on stack ${stack} would deploy nothing (and would tear down every environment the stack has).`,
        `To begin: copy one entry from ${EXAMPLE_USERS_FILE} under \`users:\` in ${displayPath}, with the person's own username, email and name; run npm run validate, then npm run deploy.`,
    ];
    if (forDeploy) {
        lines.push(`To tear down every environment of stack ${stack} instead, run \`pulumi up --stack ${stack}\`: it lists what goes before it asks.`);
    }
    return lines;
}

/** A problem line as data: `file:line:col: message`, split (the file may hold colons; the position is the last two numbers before ": "). */
export function positioned(text: string): { file: string; line: number; col: number; message: string } {
    const m = /^(.*?):(\d+):(\d+): (.*)$/s.exec(text);
    return m ? { file: m[1], line: Number(m[2]), col: Number(m[3]), message: m[4] } : { file: "", line: 0, col: 0, message: text };
}

interface StackConfigFile {
    project: string;
    file: string | null;
    problems: string[];
    /** A plain, non-empty value (text, number, boolean) of `<project>:<key>`. */
    get(key: string): string | undefined;
    /** `file:line:col` of the key's value. */
    at(key: string): string;
}

function readStackConfig(projectDir: string, stack: string): StackConfigFile {
    const projectFile = path.join(projectDir, "Pulumi.yaml");
    const projectDoc = parseDocument(fs.readFileSync(projectFile, "utf8")).toJS() as { name?: unknown } | null;
    const project = typeof projectDoc?.name === "string" && projectDoc.name !== "" ? projectDoc.name : "hero-os-grid-deployer";
    const name = `Pulumi.${stack}.yaml`;
    const full = path.join(projectDir, name);
    if (!fs.existsSync(full)) {
        return { project, file: null, problems: [], get: () => undefined, at: () => name };
    }
    const lines = new LineCounter();
    const doc = parseDocument(fs.readFileSync(full, "utf8"), { lineCounter: lines, prettyErrors: false });
    const pos = (offset: number) => {
        const p = lines.linePos(offset);
        return `${name}:${p.line}:${p.col}`;
    };
    if (doc.errors.length > 0) {
        return { project, file: name, problems: doc.errors.map((e) => `${pos(e.pos[0])}: YAML syntax: ${e.message.split("\n")[0]}`), get: () => undefined, at: () => name };
    }
    const config = ((doc.toJS() as { config?: Record<string, unknown> } | null)?.config ?? {}) as Record<string, unknown>;
    return {
        project,
        file: name,
        problems: [],
        get: (key) => {
            const v = config[`${project}:${key}`];
            return v === undefined || v === null || v === "" || typeof v === "object" ? undefined : String(v);
        },
        at: (key) => {
            const node = doc.getIn(["config", `${project}:${key}`], true) as { range?: [number, number, number] } | undefined;
            return node?.range ? pos(node.range[0]) : name;
        },
    };
}
