/**
 * Names, in one place. Every child of a user's environment is `<username>-<role>`,
 * so that `pulumi preview` reads per user and `--target` can pick one.
 * Grid-side names (VM workload, web gateway) are `<prefix><username letters and digits>`.
 */

/** Grid workload and gateway names: the stricter of the two grid rules. */
export { GRID_NAME_RE } from "../users/limits";

/** The roles of a user's child resources, in the order they are built. */
export type ChildRole =
    | "ssh-key"
    | "password"
    | "forge-account"
    | "vm"
    | "gateway"
    | "forge-login"
    | "session-secret"
    | "host-key"
    | "host-key-check"
    | "scripts"
    | "ready"
    | "install"
    | "services"
    | "front-door"
    | "cockpit-settings"
    | "books"
    | "health";

/** The Pulumi name of a user's child resource, e.g. `alice-vm`. */
export function childName(username: string, role: ChildRole): string {
    return `${username.toLowerCase()}-${role}`;
}

/**
 * The default prefix of grid names: a readable part of the stack name (its first
 * 6 lowercase letters and digits) and the first 4 hex digits of the stack
 * identity, e.g. `dev3f9a` for stack `dev`. Stacks whose names start alike
 * (`students-2025a`, `students-2025b`) still differ by the hash; a name is never
 * proof of ownership anyway (providers/ownership.ts).
 */
export function defaultNamePrefix(stack: string, identityId: string): string {
    return `${stack.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, 6)}${identityId.slice(0, 4)}`;
}

/** The default prefix of releases before stack identities: set it as `namePrefix` to keep a stack's old VM names. */
export function legacyNamePrefix(stack: string): string {
    return stack.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, 8);
}

/**
 * The grid name of a user's VM and default gateway: prefix plus the username's
 * letters and digits. It may not fit GRID_NAME_RE; the users-file loader refuses
 * such users rather than truncating them into collisions.
 */
export function gridName(prefix: string, username: string): string {
    return `${prefix}${username.toLowerCase().replace(/[^a-z0-9]/g, "")}`;
}
