/**
 * Loads and validates the users file. Every problem is reported at once, each
 * as `<file>:<line>:<col>: user "<name>": <field> <what is wrong>`, and a bad
 * file throws before the program registers a single resource.
 */
import * as fs from "fs";
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document } from "yaml";
import type { $ZodIssue } from "zod/v4/core";
import { CATALOG, memoryNeededMb, OPTIONAL_SERVICES, OS_HEADROOM_MB, resolveServices } from "./catalog";
import { GRID_NAME_RE, gridName } from "../components/naming";
import { z } from "zod";
import { closest, defaultsSchema, userSchema, usersFileSchema, type Defaults, type UserEntry } from "./zod-schema";
import type { DemoUser } from "./types";

export const VM_DEFAULTS = { memoryGb: 8, cpu: 4, diskGb: 50 };

/** Users whose `expires` falls within this many days are announced. */
export const EXPIRY_WARNING_DAYS = 7;

export interface LoadOptions {
    /** The path as the admin gave it, used in every message. */
    displayPath: string;
    /** Prefix of grid names (config `namePrefix`). */
    namePrefix: string;
    /** Today, `YYYY-MM-DD` (UTC). @default the current date */
    today?: string;
}

export interface LoadedUsers {
    /** Users to deploy: valid and not expired, in file order. */
    users: DemoUser[];
    /** Users past their `expires` date: not deployed, so `pulumi up` tears them down. */
    expired: DemoUser[];
    /** Deployed users whose `expires` date is within EXPIRY_WARNING_DAYS. */
    expiringSoon: DemoUser[];
}

/** A users file that cannot be deployed. `problems` holds one line per problem, in file order. */
export class UsersFileError extends Error {
    constructor(
        readonly file: string,
        readonly problems: string[],
    ) {
        super(`${file} has ${problems.length} problem${problems.length === 1 ? "" : "s"}; nothing was deployed:\n${problems.join("\n")}`);
        this.name = "UsersFileError";
    }
}

/** Reads `filePath` and validates it; see `parseUsersFile`. */
export function loadUsersFile(filePath: string, options: LoadOptions): LoadedUsers {
    let text: string;
    try {
        text = fs.readFileSync(filePath, "utf8");
    } catch (err) {
        const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
        throw new UsersFileError(options.displayPath, [`${options.displayPath}: cannot read the users file: ${reason}`]);
    }
    return parseUsersFile(text, options);
}

/** Validates the text of a users file and applies defaults. Pure: no I/O. */
export function parseUsersFile(text: string, options: LoadOptions): LoadedUsers {
    const file = options.displayPath;
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
        throw new UsersFileError(
            file,
            doc.errors.map((e) => {
                const pos = lineCounter.linePos(e.pos[0]);
                return `${file}:${pos.line}:${pos.col}: YAML syntax: ${e.message.split("\n")[0]}`;
            }),
        );
    }
    const where = new Locator(doc, lineCounter, file);
    // Validate the file's shape, the defaults and each user on their own, so
    // that one bad user does not hide the problems of the others.
    const data = (doc.toJS() ?? {}) as Record<string, unknown>;
    const top = z.strictObject({ defaults: z.unknown().optional(), users: z.array(z.unknown()) }).safeParse(data, { reportInput: true });
    if (!top.success) {
        throw new UsersFileError(file, sortByPosition(top.error.issues.flatMap((issue) => where.describeIssue(issue))));
    }
    const problems: string[] = [];
    const check = <T>(schema: z.ZodType<T>, value: unknown, path: PropertyKey[]): T | undefined => {
        const result = schema.safeParse(value, { reportInput: true });
        if (!result.success) {
            problems.push(...result.error.issues.flatMap((issue) => where.describeIssue({ ...issue, path: [...path, ...issue.path] })));
        }
        return result.data;
    };
    const defaults = top.data.defaults === undefined ? undefined : check(defaultsSchema, top.data.defaults, ["defaults"]);
    const entries: { index: number; entry: UserEntry }[] = [];
    top.data.users.forEach((raw, index) => {
        const entry = check(userSchema, raw, ["users", index]);
        if (entry) {
            entries.push({ index, entry });
        }
    });
    const users = entries.map(({ entry }) => normalise(entry, defaults, options.namePrefix));
    problems.push(...uniqueAcrossUsers(top.data.users, where), ...crossCheck(entries, users, where));
    if (problems.length > 0) {
        throw new UsersFileError(file, sortByPosition(problems));
    }
    const today = options.today ?? new Date().toISOString().slice(0, 10);
    const warnUntil = addDays(today, EXPIRY_WARNING_DAYS);
    const expired = users.filter((u) => u.expires !== undefined && u.expires < today);
    const active = users.filter((u) => !expired.includes(u));
    return { users: active, expired, expiringSoon: active.filter((u) => u.expires !== undefined && u.expires <= warnUntil) };
}

function normalise(entry: UserEntry, defaults: Defaults | undefined, prefix: string): DemoUser {
    const vm = { ...VM_DEFAULTS, ...defaults?.vm, ...entry.vm };
    const optional = entry.services ?? defaults?.services ?? [];
    const grid = gridName(prefix, entry.username);
    return {
        username: entry.username,
        email: entry.email,
        fullName: entry.fullName,
        services: resolveServices(optional),
        optional: OPTIONAL_SERVICES.filter((s) => optional.includes(s)),
        expires: entry.expires,
        sshKeys: (entry.sshKeys ?? []).map((k) => k.trim()),
        vm: { memoryMb: Math.round(vm.memoryGb * 1024), cpu: vm.cpu, diskGb: vm.diskGb, node: entry.vm?.node },
        gridName: grid,
        gatewayName: entry.gatewayName ?? grid,
    };
}

/** Usernames (ignoring case) and emails are unique; checked on every entry, valid or not. */
function uniqueAcrossUsers(raws: unknown[], where: Locator): string[] {
    const problems: string[] = [];
    for (const field of ["username", "email"] as const) {
        const first = new Map<string, number>();
        raws.forEach((raw, i) => {
            const value = (raw as Record<string, unknown> | null)?.[field];
            if (typeof value !== "string") {
                return;
            }
            const j = first.get(value.toLowerCase());
            if (j === undefined) {
                first.set(value.toLowerCase(), i);
                return;
            }
            const other = (raws[j] as Record<string, unknown>).username;
            const rule = field === "username" ? "; usernames are unique ignoring case" : "";
            problems.push(where.problem(["users", i, field], `"${value}" is already used by user "${other}" (line ${where.line(["users", j])})${rule}`));
        });
    }
    return problems;
}

/** Rules that span fields or users: grid names, gateway names, memory budget. */
function crossCheck(entries: { index: number; entry: UserEntry }[], users: DemoUser[], where: Locator): string[] {
    const problems: string[] = [];
    const seen = { username: new Map<string, number>(), grid: new Map<string, number>(), gateway: new Map<string, number>() };
    const firstSeen = (map: Map<string, number>, key: string, i: number): number | undefined => {
        const first = map.get(key);
        if (first === undefined) {
            map.set(key, i);
        }
        return first;
    };
    users.forEach((u, i) => {
        const { index, entry } = entries[i];
        const at = (field: (string | number)[], message: string) => problems.push(where.problem(["users", index, ...field], message));
        const other = (j: number) => `user "${users[j].username}" (line ${where.line(["users", entries[j].index])})`;
        // A duplicate username (reported by uniqueAcrossUsers) makes its grid and gateway names collide too.
        let j = firstSeen(seen.username, u.username.toLowerCase(), i);
        const nameClash = j !== undefined;
        if (nameClash) {
            // Reported above.
        } else if (!GRID_NAME_RE.test(u.gridName)) {
            at(["username"], `"${u.username}" gives the grid name "${u.gridName}", which must be 3 to 36 lowercase letters or digits; choose a shorter username or namePrefix`);
        } else if ((j = firstSeen(seen.grid, u.gridName, i)) !== undefined) {
            at(["username"], `"${u.username}" gives the grid name "${u.gridName}", which ${other(j)} already gives; usernames must differ in their letters and digits`);
        }
        const gridClash = !nameClash && seen.grid.get(u.gridName) !== i;
        if ((j = firstSeen(seen.gateway, u.gatewayName, i)) !== undefined && (entry.gatewayName || !(nameClash || gridClash))) {
            at([entry.gatewayName ? "gatewayName" : "username"], `gives the gateway name "${u.gatewayName}", already used by ${other(j)}; set a distinct gatewayName`);
        }
        const needed = memoryNeededMb(u.services);
        if (needed > u.vm.memoryMb) {
            const parts = u.services.map((s) => `${s} ${CATALOG[s].memoryMb}`).join(" + ");
            at(
                [entry.services ? "services" : entry.vm?.memoryGb !== undefined ? "vm" : "username"],
                `need ${needed} MB (${parts}, plus ${OS_HEADROOM_MB} MB for the OS) but the VM has ${u.vm.memoryMb} MB; drop optional services or raise vm.memoryGb`,
            );
        }
    });
    return problems;
}

type Path = readonly PropertyKey[];

/** Maps a path in the parsed data to `file:line:col: user "x": field`. */
class Locator {
    constructor(
        private readonly doc: Document,
        private readonly lines: LineCounter,
        private readonly file: string,
    ) {}

    describeIssue(issue: $ZodIssue): string[] {
        if (issue.code === "unrecognized_keys") {
            const known = Object.keys(this.shapeAt(issue.path));
            return issue.keys.map((key) => {
                const guess = closest(key, known);
                const hint = guess ? `did you mean "${guess}"?` : `known fields: ${known.join(", ")}`;
                return this.problem([...issue.path, key], `is not a known field (${hint})`, this.keyOffset(issue.path, key));
            });
        }
        const missing = issue.code === "invalid_type" && issue.input === undefined;
        return [this.problem(issue.path, missing ? "is required" : this.phrase(issue))];
    }

    problem(path: Path, message: string, offset?: number): string {
        const pos = this.lines.linePos(offset ?? this.offset(path));
        const field = fieldName(path);
        const glue = /^["(\d]|^(is|must|need|gives) /.test(message) ? " " : ": ";
        return `${this.file}:${pos.line}:${pos.col}: ${this.subject(path)}${field}${field ? glue : ""}${message}`;
    }

    line(path: Path): number {
        return this.lines.linePos(this.offset(path)).line;
    }

    /** The zod object shape that validates the map at `path`. */
    private shapeAt(path: Path): Record<string, unknown> {
        const names = path.filter((p): p is string => typeof p === "string");
        let shape: Record<string, unknown> = usersFileSchema.shape;
        for (const name of names) {
            let next = shape[name] as z.ZodType | undefined;
            while (next && !(next instanceof z.ZodObject)) {
                next = (next as unknown as { unwrap?: () => z.ZodType }).unwrap?.() ?? (next instanceof z.ZodArray ? (next.element as z.ZodType) : undefined);
            }
            if (!next) {
                return {};
            }
            shape = next.shape;
        }
        return shape;
    }

    private phrase(issue: $ZodIssue): string {
        const msg = issue.message;
        return /^["(]|^(is|must) /.test(msg) ? msg : msg.charAt(0).toLowerCase() + msg.slice(1);
    }

    private subject(path: Path): string {
        if (path[0] === "users" && typeof path[1] === "number") {
            const name = this.doc.getIn(["users", path[1], "username"]);
            return `user ${typeof name === "string" ? `"${name}"` : `#${path[1] + 1}`}: `;
        }
        return path[0] === "defaults" ? "defaults: " : "";
    }

    /** Offset of the deepest node on `path` that exists in the document. */
    private offset(path: Path): number {
        for (let n = path.length; n >= 0; n--) {
            const node = n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n) as unknown[], true);
            const range = (node as { range?: [number, number, number] } | undefined)?.range;
            if (range) {
                return range[0];
            }
        }
        return 0;
    }

    private keyOffset(path: Path, key: string): number | undefined {
        const map = path.length === 0 ? this.doc.contents : this.doc.getIn(path as unknown[], true);
        if (!isMap(map)) {
            return undefined;
        }
        const pair = map.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
        return (pair?.key as { range?: [number, number, number] } | undefined)?.range?.[0];
    }
}

/** `["users", 0, "services", 2]` → `services[2]`; `["defaults", "vm", "cpu"]` → `vm.cpu`. */
function fieldName(path: Path): string {
    const rest = path[0] === "users" && typeof path[1] === "number" ? path.slice(2) : path[0] === "defaults" ? path.slice(1) : path;
    return rest.reduce<string>((s, p) => (typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${String(p)}` : String(p)), "");
}

function sortByPosition(problems: string[]): string[] {
    const key = (p: string) => {
        const m = /:(\d+):(\d+): /.exec(p);
        return m ? Number(m[1]) * 10_000 + Number(m[2]) : 0;
    };
    return [...problems].sort((a, b) => key(a) - key(b));
}

function addDays(day: string, days: number): string {
    const d = new Date(`${day}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
}
