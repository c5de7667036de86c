/**
 * The users file's schema, in zod (named so that `./schema` never resolves to schema.json). `users/schema.json` is generated from it
 * (`npm run schema`) for editors, and a test fails when the two drift apart.
 *
 * Rules that span fields or users (unique names, memory budget, grid names)
 * live in `load.ts`; this file checks each value on its own.
 */
import { z } from "zod";
import { CORE_SERVICES, OPTIONAL_SERVICES, REFUSED_SERVICES } from "./catalog";
import * as limits from "./limits";
import { keyIdentity, sshKeyProblem } from "./ssh-key";

export { RESERVED_USERNAMES, USERNAME_RE } from "./limits";

const SERVICE_NAMES = [...CORE_SERVICES, ...OPTIONAL_SERVICES] as const;

export const serviceName = z.enum(SERVICE_NAMES, {
    error: (iss) => {
        if (typeof iss.input !== "string") {
            return `${limits.show(iss.input)} is not a service name (choose from ${OPTIONAL_SERVICES.join(", ")})`;
        }
        const value = iss.input;
        const known = [...SERVICE_NAMES, ...Object.keys(REFUSED_SERVICES)];
        const guess = closest(value, known);
        const hint = guess ? `did you mean "${guess}"?${REFUSED_SERVICES[guess] ? ` ${guess} is not offered: ${REFUSED_SERVICES[guess]}` : ""}; ` : "";
        if (REFUSED_SERVICES[value]) {
            return `"${value}" is not offered: ${REFUSED_SERVICES[value]}`;
        }
        return `${limits.show(value)} is not a service (${hint}choose from ${OPTIONAL_SERVICES.join(", ")})`;
    },
});

/**
 * A value checked by one of the limits' `*Problem` functions: the same test and
 * the same message as the providers' `check`. The base type keeps schema.json
 * informative; the custom check decides.
 */
function checked<T extends z.ZodType>(base: T, problem: (v: unknown) => string | undefined): z.ZodType<z.infer<T>> {
    return z.any().superRefine((v, ctx) => {
        const message = problem(v);
        if (message !== undefined) ctx.addIssue({ code: "custom", message, input: v });
    }).pipe(base) as unknown as z.ZodType<z.infer<T>>;
}

/** A number within a range of the limits module; JSON Schema gets the range too. */
function ranged(r: limits.Range) {
    const n = r.whole ? z.number().int() : z.number();
    return checked(n.min(r.min).max(r.max), (v) => limits.rangeProblem(r, v));
}

/** A list whose items must not repeat; `same` gives the identity an item is compared by. */
function uniqueList<T extends z.ZodType>(item: T, what: string, same: (v: unknown) => unknown = (v) => v) {
    return z.array(item).superRefine((list, ctx) => {
        const first = new Map<unknown, number>();
        list.forEach((v, i) => {
            const key = same(v);
            const j = first.get(key);
            if (j === undefined) first.set(key, i);
            else ctx.addIssue({ code: "custom", path: [i], input: v, message: `${limits.show(v)} is listed twice (first as ${what}[${j}]; list each once)` });
        });
    });
}

const vmSize = z.strictObject({
    memoryGb: ranged(limits.MEMORY_GB).describe(`Memory in GB (grid limits ${limits.allowed(limits.MEMORY_GB)}). @default 8`).optional(),
    cpu: ranged(limits.CPU).describe(`Virtual CPUs (grid limits ${limits.allowed(limits.CPU)}). @default 4`).optional(),
    diskGb: ranged(limits.DISK_GB).describe(`Root disk in GB (${limits.allowed(limits.DISK_GB)}). @default 50`).optional(),
});

const isoDate = checked(z.iso.date(), (v) => {
    if (typeof v === "string" && z.iso.date().safeParse(v).success) return undefined;
    if (v instanceof Date) return `${limits.show(v)} is not a date as text (quote it: "${v.toISOString().slice(0, 10)}")`;
    return `${limits.show(v)} is not a date (write YYYY-MM-DD, e.g. "2027-03-31")`;
});

const sshPublicKey = checked(z.string(), sshKeyProblem);

export const userSchema = z.strictObject({
    username: checked(z.string().max(limits.USERNAME_MAX).regex(limits.USERNAME_RE), limits.usernameProblem).describe("Forge login; the basis of every resource, VM and gateway name."),
    email: checked(z.string().max(limits.EMAIL_MAX).regex(limits.EMAIL_RE), limits.emailProblem),
    fullName: checked(z.string().min(1).max(limits.FULL_NAME_MAX), limits.fullNameProblem).describe("Shown in Forge and the cockpit."),
    services: uniqueList(serviceName, "services").describe("Optional services on top of the core ones; replaces defaults.services.").optional(),
    expires: isoDate.describe("Last day of the environment (YYYY-MM-DD); it is torn down after.").optional(),
    sshKeys: uniqueList(sshPublicKey, "sshKeys", (v) => (typeof v === "string" ? keyIdentity(v) : v)).describe("The person's own SSH public keys, authorised on the VM.").optional(),
    vm: vmSize
        .extend({ node: ranged(limits.NODE_ID).describe("Grid node id to pin the VM to.").optional() })
        .describe("Overrides of defaults.vm for this user.")
        .optional(),
    gatewayName: checked(z.string().regex(limits.GRID_NAME_RE), limits.gridNameProblem)
        .describe("Web gateway name; the public URL is https://<gatewayName>.<gateway domain>. @default <prefix><username>")
        .optional(),
});

export const defaultsSchema = z.strictObject({
    vm: vmSize.optional(),
    services: uniqueList(serviceName, "services").describe("Optional services every user gets unless they list their own.").optional(),
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
        // Top-level `x-…` keys are the admin's own (e.g. a place for anchors); the loader skips them too.
        patternProperties: { "^x-": {} },
        title: "Hero OS Grid Deployer users file",
    };
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
