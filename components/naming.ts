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
 * The default prefix of grid names: the stack name, reduced to lowercase letters
 * and digits and cut to 8 characters, so that two stacks never share a VM name.
 */
export function defaultNamePrefix(stack: string): string {
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
