/**
 * Every limit on a demo user's values, in one place: lengths, ranges,
 * patterns and Forgejo's reserved names. The users-file schema
 * (`zod-schema.ts`) and the providers' `check` functions (ForgeAccount, Vm,
 * Gateway) both import these, so the file refuses exactly what a provider
 * would refuse later, with the same message.
 *
 * Plain TypeScript, no Pulumi import: the providers' serialized code captures
 * what it uses from here, so keep it small. Each `*Problem` function returns
 * `undefined` for a good value, or "what is wrong (what is allowed)".
 */

/** A numeric range. `unit` follows the figures in messages ("GB"); `whole` asks for an integer. */
export interface Range {
    readonly min: number;
    readonly max: number;
    readonly whole: boolean;
    readonly unit?: string;
}

/** Memory in GB: the grid's limits (0.25 to 256 GB). The VM provider receives MB (GB × 1024). */
export const MEMORY_GB: Range = { min: 0.25, max: 256, whole: false, unit: "GB" };
/** Virtual CPUs: the grid's limits. */
export const CPU: Range = { min: 1, max: 32, whole: true };
/** Root disk in GB: enough for the Ubuntu image, at most 10 TB. */
export const DISK_GB: Range = { min: 15, max: 10_240, whole: true, unit: "GB" };
/** A VM's size when neither the user nor `defaults.vm` sets it. */
export const VM_DEFAULTS = { memoryGb: 8, cpu: 4, diskGb: 50 };

/** Grid node ids: positive 32-bit integers. */
export const NODE_ID: Range = { min: 1, max: 2_147_483_647, whole: true };

/** Forgejo's API limits (modules/structs/admin_user.go, `CreateUserOption`: MaxSize counts characters). */
export const USERNAME_MAX = 40;
export const FULL_NAME_MAX = 100;
export const EMAIL_MAX = 254;

/** Forgejo's username rule: letters, digits and single `-`, `_`, `.` between them. */
export const USERNAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9]|[-_.](?=[A-Za-z0-9]))*$/;
/** An email address as far as we check it offline: something@host.tld, no spaces. */
export const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Grid workload and gateway names: the stricter of the two grid rules. */
export const GRID_NAME_RE = /^[a-z0-9]{3,36}$/;

/**
 * Names Forgejo reserves, compared ignoring case: no account can take them.
 * Data taken from Forgejo's `reservedUsernames` and `reservedUserPatterns` in
 * models/user/user.go, as read in creator-signal/fork-forgejo-forgejo (a copy
 * of forgejo/forgejo) at commit f871c0cf284b9b5b354642a8c084d8f309dd3a25.
 */
export const RESERVED_USERNAMES: readonly string[] = [
    ".", "..", "-", ".well-known", "api", "metrics", "v2", "assets", "attachments", "avatar", "avatars",
    "repo-avatars", "captcha", "login", "org", "repo", "user", "admin", "devtest", "explore", "issues", "pulls",
    "milestones", "notifications", "report_abuse", "favicon.ico", "manifest.json", "robots.txt", "sitemap.xml",
    "ssh_info", "swagger.v1.json", "ghost", "gitea-actions", "forgejo-actions",
];
/** Forgejo's reserved suffixes (its patterns `*.keys`, `*.gpg`, `*.rss`, `*.atom`, `*.png`). */
export const RESERVED_SUFFIXES: readonly string[] = [".keys", ".gpg", ".rss", ".atom", ".png"];

/** A value as the admin wrote it in YAML, for messages: `"x"`, `300`, `.nan`, `a list`. */
export function show(v: unknown): string {
    if (typeof v === "string") {
        return JSON.stringify(v.length > 40 ? `${v.slice(0, 36)}...` : v);
    }
    if (typeof v === "number") {
        return Number.isNaN(v) ? ".nan" : v === Infinity ? ".inf" : v === -Infinity ? "-.inf" : String(v);
    }
    if (v instanceof Date) {
        return `the timestamp ${Number.isNaN(v.getTime()) ? "(invalid)" : v.toISOString().replace("T00:00:00.000Z", "")}`;
    }
    if (v === null || v === undefined) {
        return "nothing";
    }
    return Array.isArray(v) ? "a list" : typeof v === "object" ? "a map" : String(v);
}

/** "1 to 32, whole" or "0.25 to 256 GB". */
export function allowed(r: Range): string {
    return `${r.min} to ${r.max}${r.unit ? ` ${r.unit}` : ""}${r.whole ? ", whole" : ""}`;
}

/** What is wrong with `v` against `r`, or undefined. */
export function rangeProblem(r: Range, v: unknown): string | undefined {
    if (typeof v !== "number" || !Number.isFinite(v)) {
        return `${show(v)} is not a number (${allowed(r)})`;
    }
    if (r.whole && !Number.isInteger(v)) {
        return `${show(v)} is not a whole number (${allowed(r)})`;
    }
    if (v < r.min) {
        return `${show(v)} is too small (${allowed(r)})`;
    }
    if (v > r.max) {
        return `${show(v)} is too large (${allowed(r)})`;
    }
    return undefined;
}

/** Length in characters (code points), as Forgejo's MaxSize counts them. */
function chars(s: string): number {
    return [...s].length;
}

export function usernameProblem(v: unknown): string | undefined {
    if (typeof v !== "string") {
        return `${show(v)} is not text (a Forgejo username)`;
    }
    if (chars(v) > USERNAME_MAX) {
        return `${show(v)} is ${chars(v)} characters long (at most ${USERNAME_MAX}, Forgejo's limit)`;
    }
    if (!USERNAME_RE.test(v)) {
        return `${show(v)} is not a Forgejo username (letters, digits and single - _ . between them)`;
    }
    const lower = v.toLowerCase();
    if (RESERVED_USERNAMES.includes(lower)) {
        return `${show(v)} is reserved by Forgejo for its own pages (choose another username)`;
    }
    const suffix = RESERVED_SUFFIXES.find((s) => lower.endsWith(s));
    if (suffix) {
        return `${show(v)} is reserved by Forgejo: names ending in ${suffix} are its routes (choose another username)`;
    }
    return undefined;
}

export function emailProblem(v: unknown): string | undefined {
    if (typeof v !== "string") {
        return `${show(v)} is not text (an email address)`;
    }
    if (chars(v) > EMAIL_MAX) {
        return `${show(v)} is ${chars(v)} characters long (at most ${EMAIL_MAX}, Forgejo's limit)`;
    }
    return EMAIL_RE.test(v) ? undefined : `${show(v)} is not an email address (name@example.org)`;
}

export function fullNameProblem(v: unknown): string | undefined {
    if (typeof v !== "string") {
        return `${show(v)} is not text (1 to ${FULL_NAME_MAX} characters)`;
    }
    const n = chars(v.trim());
    if (n === 0) {
        return `is empty (1 to ${FULL_NAME_MAX} characters)`;
    }
    return n > FULL_NAME_MAX ? `is ${n} characters long (1 to ${FULL_NAME_MAX} characters, Forgejo's limit)` : undefined;
}

/** A grid name (VM workload or web gateway). */
export function gridNameProblem(v: unknown): string | undefined {
    return typeof v === "string" && GRID_NAME_RE.test(v) ? undefined : `${show(v)} is not a grid name (3 to 36 lowercase letters or digits)`;
}

/** The users file itself: refused above these, so a mistake cannot exhaust the machine. */
export const MAX_FILE_BYTES = 5 * 1024 * 1024;
export const MAX_USERS = 5_000;
/** Values the file may expand to through YAML aliases (each alias counts its anchor's whole size). */
export const MAX_EXPANDED_VALUES = 1_000_000;
/** Above this many deployed users one stack is slow (see docs/figures.md): the loader warns. */
export const ADVISED_USERS_PER_STACK = 100;
/** Problems listed in one error message; the rest are counted. */
export const MAX_LISTED_PROBLEMS = 200;
