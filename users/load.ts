/**
 * Loads and validates the users file. Every problem is reported at once, each
 * as `<file>:<line>:<col>: user "<name>": <field>: <what is wrong> (<what is allowed>)`,
 * and a bad file throws before the program registers a single resource. The
 * loader never throws anything but a UsersFileError.
 *
 * Each field is checked on its own, so one bad value hides nothing else, and
 * the checks across users run over every user that has the fields they need.
 */
import * as fs from "fs";
import { z } from "zod";
import { OPTIONAL_SERVICES, resolveServices } from "./catalog";
import { crossCheck, uniqueAcrossUsers } from "./cross-checks";
import { gridName } from "../components/naming";
import * as limits from "./limits";
import { Locator, type Problem } from "./locate";
import { closest, defaultsSchema, userSchema } from "./zod-schema";
import { readYaml } from "./yaml-read";
import type { DemoUser } from "./types";

import { VM_DEFAULTS } from "./limits";

export { VM_DEFAULTS };

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
    /** Advice for the admin (e.g. more users than one stack handles well); the file is still valid. */
    warnings: string[];
}

/** A users file that cannot be deployed. `problems` holds one line per problem, in file order; the message lists at most 200. */
export class UsersFileError extends Error {
    constructor(
        readonly file: string,
        readonly problems: string[],
    ) {
        super(usersFileMessage(file, problems));
        this.name = "UsersFileError";
    }
}

/** The error text: a count, then at most MAX_LISTED_PROBLEMS lines, then how many were left out. */
export function usersFileMessage(file: string, problems: readonly string[]): string {
    const n = problems.length;
    const listed = problems.slice(0, limits.MAX_LISTED_PROBLEMS);
    const rest = n - listed.length;
    const more = rest > 0 ? [`... and ${rest} more problem${rest === 1 ? "" : "s"} (fix these first, or run again to see them)`] : [];
    return [`${file} has ${n} problem${n === 1 ? "" : "s"}; nothing was deployed:`, ...listed, ...more].join("\n");
}

/** Reads `filePath` and validates it; see `parseUsersFile`. */
export function loadUsersFile(filePath: string, options: LoadOptions): LoadedUsers {
    const file = options.displayPath;
    let text: string;
    try {
        const size = fs.statSync(filePath).size;
        if (size > limits.MAX_FILE_BYTES) {
            throw new UsersFileError(file, [`${file}:1:1: ${tooBig(size)}`]);
        }
        text = fs.readFileSync(filePath, "utf8");
    } catch (err) {
        if (err instanceof UsersFileError) throw err;
        const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
        throw new UsersFileError(file, [`${file}:1:1: cannot read the users file: ${reason}`]);
    }
    return parseUsersFile(text, options);
}

function tooBig(bytes: number): string {
    const mb = (b: number) => `${Number((b / 1024 / 1024).toFixed(1))} MB`;
    return `the file is ${mb(bytes)} (at most ${mb(limits.MAX_FILE_BYTES)}; split the users into cohorts, one stack and users file each)`;
}

/** Validates the text of a users file and applies defaults. Pure: no I/O. */
export function parseUsersFile(text: string, options: LoadOptions): LoadedUsers {
    const file = options.displayPath;
    const bytes = Buffer.byteLength(text, "utf8");
    if (bytes > limits.MAX_FILE_BYTES) {
        throw new UsersFileError(file, [`${file}:1:1: ${tooBig(bytes)}`]);
    }
    const yaml = readYaml(text);
    const where = new Locator(yaml.doc, yaml.lines, file);
    const problems: Problem[] = yaml.findings.map((f) => where.at(f.path, f.message, f.offset));
    if (yaml.data === undefined) {
        throw new UsersFileError(file, where.sorted(problems));
    }
    const check = new FieldChecker(where, problems);
    const top = check.map(yaml.data ?? {}, [], TOP_SHAPE, false);
    const rawUsers = Array.isArray(top.users) ? top.users : [];
    if (rawUsers.length > limits.MAX_USERS) {
        throw new UsersFileError(file, [where.text(where.at(["users"], `lists ${rawUsers.length} users (at most ${limits.MAX_USERS} in one file; split them into cohorts, one stack and users file each)`))]);
    }
    const defaults = check.map(top.defaults, ["defaults"], defaultsSchema.shape, true) as Partial<Defaults>;
    const entries = rawUsers.map((raw, index) => ({ index, raw, fields: check.map(raw, ["users", index], userSchema.shape, false) as Partial<Entry> }));
    problems.push(...uniqueAcrossUsers(rawUsers, where), ...crossCheck(entries, { valid: defaults, raw: top.defaults }, options.namePrefix, where));
    if (problems.length > 0) {
        throw new UsersFileError(file, where.sorted(problems));
    }
    const users = entries.map(({ fields }) => normalise(fields as Entry, defaults, options.namePrefix));
    const today = options.today ?? new Date().toISOString().slice(0, 10);
    const warnUntil = addDays(today, EXPIRY_WARNING_DAYS);
    const expired = users.filter((u) => u.expires !== undefined && u.expires < today);
    const gone = new Set(expired);
    const active = users.filter((u) => !gone.has(u));
    const warnings =
        active.length > limits.ADVISED_USERS_PER_STACK
            ? [
                  `${file}: ${active.length} users to deploy in one stack; above ${limits.ADVISED_USERS_PER_STACK} a stack gets slow ` +
                      `(measured: 9 s and 0.4 GB to evaluate 100 users, 108 s and 1.3 GB for 1,000). Split the users into cohorts, one stack and users file each (docs/figures.md)`,
              ]
            : [];
    return { users: active, expired, expiringSoon: active.filter((u) => u.expires !== undefined && u.expires <= warnUntil), warnings };
}

export type Entry = z.infer<typeof userSchema>;

/** The file's top level: each part is checked on its own below. */
const TOP_SHAPE: Record<string, z.ZodType> = {
    defaults: z.unknown(),
    users: z.unknown().superRefine((v, ctx) => {
        if (Array.isArray(v)) return;
        const message = v === undefined ? "is required" : v === null ? "is empty (list the users under it, or write users: [])" : `${limits.show(v)} is not a list (one entry per user)`;
        ctx.addIssue({ code: "custom", input: v, message });
    }),
};
export type Defaults = z.infer<typeof defaultsSchema>;

/**
 * Checks a map field by field against a zod object shape: unknown keys (with a
 * suggestion), missing required fields, each value with its own schema, and
 * nested maps (`vm`) the same way. Returns the fields that passed.
 */
class FieldChecker {
    constructor(
        private readonly where: Locator,
        private readonly problems: Problem[],
    ) {}

    map(value: unknown, path: PropertyKey[], shape: Record<string, z.ZodType>, optional: boolean): Record<string, unknown> {
        if (value === undefined && optional) return {};
        if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Date) {
            const fields = Object.keys(shape).join(", ");
            this.add(path, value === null ? `is empty (a map of fields: ${fields})` : `${path.length === 0 ? "the file holds " : ""}${limits.show(value)} is not a map of fields (${fields})`);
            return {};
        }
        const data = value as Record<string, unknown>;
        const known = Object.keys(shape);
        const out: Record<string, unknown> = {};
        for (const key of Object.keys(data)) {
            // At the top level, `x-…` keys are the admin's own, e.g. a place for anchors (`x-sizes: { big: &big … }`).
            if (!known.includes(key) && !(path.length === 0 && key.startsWith("x-"))) {
                const guess = closestKnown(key, known);
                this.add([...path, key], `is not a known field (${guess ? `did you mean "${guess}"?` : `known fields: ${known.join(", ")}`})`, this.where.keyOffset(path, key));
            }
        }
        for (const key of known) {
            const schema = shape[key];
            const v = data[key];
            if (v === undefined) {
                if (!schema.safeParse(undefined).success) this.add([...path, key], "is required");
                continue;
            }
            const inner = unwrapObject(schema);
            if (inner) {
                const sub = this.map(v, [...path, key], inner.shape, false);
                if (Object.keys(sub).length > 0) out[key] = sub;
                continue;
            }
            const result = schema.safeParse(v, { reportInput: true });
            if (result.success) {
                out[key] = result.data;
            } else {
                for (const issue of result.error.issues) this.add([...path, key, ...issue.path], this.where.phrase(issue));
            }
        }
        return out;
    }

    private add(path: PropertyKey[], message: string, offset?: number): void {
        this.problems.push(this.where.at(path, message, offset));
    }
}

/** The object schema inside optional/described wrappers, if `schema` validates a map. */
function unwrapObject(schema: z.ZodType): z.ZodObject | undefined {
    let s: z.ZodType | undefined = schema;
    while (s && !(s instanceof z.ZodObject)) {
        s = (s as unknown as { unwrap?: () => z.ZodType }).unwrap?.();
    }
    return s;
}

function closestKnown(key: string, known: string[]): string | undefined {
    return closest(key, known);
}

function normalise(entry: Entry, defaults: Partial<Defaults>, prefix: string): DemoUser {
    const vm = { ...VM_DEFAULTS, ...defaults.vm, ...entry.vm };
    const optional = entry.services ?? defaults.services ?? [];
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

function addDays(day: string, days: number): string {
    const d = new Date(`${day}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
}
