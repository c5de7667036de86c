/**
 * The users file's schema, in zod (named so that `./schema` never resolves to schema.json). `users/schema.json` is generated from it
 * (`npm run schema`) for editors, and a test fails when the two drift apart.
 *
 * Rules that span fields or users (unique names, memory budget, grid names)
 * live in `load.ts`; this file checks each value on its own.
 */
import { z } from "zod";
import { CORE_SERVICES, OPTIONAL_SERVICES, REFUSED_SERVICES } from "./catalog";

/** Forgejo's rule: letters, digits and single `-`, `_`, `.` between them, 40 at most. */
export const USERNAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9]|[-_.](?=[A-Za-z0-9]))*$/;

/** Names Forgejo reserves for its own routes: no account can take them. */
export const RESERVED_USERNAMES = [
    "admin", "api", "assets", "attachments", "avatar", "avatars", "captcha", "commits", "debug", "error",
    "explore", "favicon.ico", "ghost", "issues", "login", "manifest.json", "metrics", "milestones", "new",
    "notifications", "org", "pulls", "raw", "repo", "robots.txt", "search", "serviceworker.js", "ssh_info",
    "swagger.v1.json", "user", "v2", "-",
];

const SERVICE_NAMES = [...CORE_SERVICES, ...OPTIONAL_SERVICES] as const;

export const serviceName = z.enum(SERVICE_NAMES, {
    error: (iss) => {
        const value = String(iss.input);
        const known = [...SERVICE_NAMES, ...Object.keys(REFUSED_SERVICES)];
        const guess = closest(value, known);
        const hint = guess ? ` (did you mean "${guess}"?${REFUSED_SERVICES[guess] ? ` ${guess} is not offered: ${REFUSED_SERVICES[guess]}` : ""})` : "";
        if (REFUSED_SERVICES[value]) {
            return `"${value}" is not offered: ${REFUSED_SERVICES[value]}`;
        }
        return `"${value}" is not a service${hint}; choose from ${OPTIONAL_SERVICES.join(", ")}`;
    },
});

/** A number within the grid's limits, with a message that names them. */
function limited(what: string, min: number, max: number, int: boolean) {
    const error = (iss: { input: unknown }) =>
        typeof iss.input === "number" ? `${iss.input} is outside the grid's limits for ${what} (${min} to ${max}${int ? ", whole" : ""})` : `must be a number (${what})`;
    const n = z.number({ error });
    return (int ? n.int({ error }) : n).min(min, { error }).max(max, { error });
}

const vmSize = z.strictObject({
    memoryGb: limited("memory in GB", 0.25, 256, false).describe("Memory in GB (grid limits 0.25 to 256). @default 8").optional(),
    cpu: limited("virtual CPUs", 1, 32, true).describe("Virtual CPUs (grid limits 1 to 32). @default 4").optional(),
    diskGb: limited("root disk in GB", 15, 10240, true).describe("Root disk in GB. @default 50").optional(),
});

const isoDate = z.iso.date({ error: (iss) => `"${String(iss.input)}" is not a date (write YYYY-MM-DD)` });

const sshPublicKey = z
    .string()
    .refine(parsesAsSshPublicKey, { error: (iss) => `"${abbreviate(String(iss.input))}" is not an OpenSSH public key (ssh-ed25519, ssh-rsa or ecdsa)` });

export const userSchema = z.strictObject({
    username: z
        .string()
        .max(40, { error: (iss) => `"${iss.input}" is longer than Forgejo's 40 characters` })
        .regex(USERNAME_RE, { error: (iss) => `"${iss.input}" may hold only letters, digits and single - _ . between them` })
        .refine((u) => !RESERVED_USERNAMES.includes(u.toLowerCase()), { error: (iss) => `"${iss.input}" is reserved by Forgejo` })
        .describe("Forge login; the basis of every resource, VM and gateway name."),
    email: z.email({ error: (iss) => `"${String(iss.input)}" is not an email address` }),
    fullName: z.string().min(1).max(255).describe("Shown in Forge and the cockpit."),
    services: z.array(serviceName).describe("Optional services on top of the core ones; replaces defaults.services.").optional(),
    expires: isoDate.describe("Last day of the environment (YYYY-MM-DD); it is torn down after.").optional(),
    sshKeys: z.array(sshPublicKey).describe("The person's own SSH public keys, authorised on the VM.").optional(),
    vm: vmSize
        .extend({ node: z.number().int().positive().describe("Grid node id to pin the VM to.").optional() })
        .describe("Overrides of defaults.vm for this user.")
        .optional(),
    gatewayName: z
        .string()
        .regex(/^[a-z0-9]{3,36}$/, { error: (iss) => `"${iss.input}" must be 3 to 36 lowercase letters or digits` })
        .describe("Web gateway name; the public URL is https://<gatewayName>.<gateway domain>. @default <prefix><username>")
        .optional(),
});

export const defaultsSchema = z.strictObject({
    vm: vmSize.optional(),
    services: z.array(serviceName).describe("Optional services every user gets unless they list their own.").optional(),
});

export const usersFileSchema = z.strictObject({
    defaults: defaultsSchema.optional(),
    users: z.array(userSchema).describe("One entry per demo user."),
});

export type Defaults = z.infer<typeof defaultsSchema>;
export type UserEntry = z.infer<typeof userSchema>;

/** The JSON Schema that `users/schema.json` must equal. */
export function usersJsonSchema(): object {
    return {
        ...z.toJSONSchema(usersFileSchema, { target: "draft-7" }),
        title: "Hero OS Grid Deployer users file",
    };
}

/** True when `key` is `<type> <base64 blob> [comment]` and the blob names the same type. */
export function parsesAsSshPublicKey(key: string): boolean {
    const m = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com) ([A-Za-z0-9+/]+={0,2})(?: [^\n]*)?$/.exec(key.trim());
    if (!m) {
        return false;
    }
    const blob = Buffer.from(m[2], "base64");
    if (blob.length < 4) {
        return false;
    }
    const len = blob.readUInt32BE(0);
    return blob.subarray(4, 4 + len).toString("latin1") === m[1];
}

function abbreviate(s: string): string {
    return s.length > 24 ? `${s.slice(0, 20)}...` : s;
}

/** The candidate within edit distance 2 of `value`, if any. */
export function closest(value: string, candidates: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = 3;
    for (const c of candidates) {
        const d = editDistance(value.toLowerCase(), c);
        if (d < bestDistance) {
            best = c;
            bestDistance = d;
        }
    }
    return best;
}

function editDistance(a: string, b: string): number {
    let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
        const cur = [i];
        for (let j = 1; j <= b.length; j++) {
            cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        prev = cur;
    }
    return prev[b.length];
}
