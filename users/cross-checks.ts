/**
 * The users file's rules that span fields or users: unique usernames and
 * emails, grid names, gateway names and the memory budget. Each runs over
 * every user that has the fields it needs, even one that failed elsewhere.
 */
import { CATALOG, memoryNeededMb, OS_HEADROOM_MB, resolveServices } from "./catalog";
import { gridName } from "../components/naming";
import * as limits from "./limits";
import type { Locator, Problem } from "./locate";
import type { Defaults, Entry } from "./load";

/** Usernames (ignoring case) and emails are unique; checked on every entry, valid or not. */
export function uniqueAcrossUsers(raws: unknown[], where: Locator): Problem[] {
    const problems: Problem[] = [];
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
            problems.push(where.at(["users", i, field], `${limits.show(value)} is already used by user ${limits.show(other)} (line ${where.line(["users", j])}${rule})`));
        });
    }
    return problems;
}

/**
 * Rules that span fields or users: grid names, gateway names, memory budget.
 * Each runs for every user whose fields it needs passed their own checks.
 */
export function crossCheck(entries: { index: number; raw: unknown; fields: Partial<Entry> }[], defaults: Checked<Defaults>, prefix: string, where: Locator): Problem[] {
    const problems: Problem[] = [];
    const byName = new Map<string, number>();
    const byGrid = new Map<string, number>();
    const byGateway = new Map<string, number>();
    const other = (j: number) => `user ${limits.show(entries[j].fields.username)} (line ${where.line(["users", entries[j].index])}`;
    entries.forEach(({ index, raw, fields }, i) => {
        const at = (field: PropertyKey[], message: string) => problems.push(where.at(["users", index, ...field], message));
        let nameClash = false;
        let grid: string | undefined;
        if (fields.username !== undefined) {
            const lower = fields.username.toLowerCase();
            // A duplicate username (reported by uniqueAcrossUsers) makes its grid and gateway names collide too.
            nameClash = byName.has(lower);
            if (!nameClash) byName.set(lower, i);
            grid = gridName(prefix, fields.username);
            if (nameClash) {
                // Reported already.
            } else if (limits.gridNameProblem(grid)) {
                // The Vm and Gateway providers refuse the name with the same words: gridNameProblem.
                at(["username"], `${limits.show(fields.username)} makes a grid name the grid refuses: ${limits.gridNameProblem(grid)}; choose a shorter username or namePrefix`);
                grid = undefined;
            } else if (byGrid.has(grid)) {
                at(["username"], `${limits.show(fields.username)} gives the grid name ${limits.show(grid)}, as ${other(byGrid.get(grid)!)}) does (usernames must differ in their letters and digits)`);
                grid = undefined;
                nameClash = true;
            } else {
                byGrid.set(grid, i);
            }
        }
        const gateway = fields.gatewayName ?? (nameClash ? undefined : grid);
        if (gateway !== undefined) {
            const j = byGateway.get(gateway);
            if (j === undefined) byGateway.set(gateway, i);
            else if (fields.gatewayName) at(["gatewayName"], `${limits.show(gateway)} is already used by ${other(j)}; set a distinct gatewayName)`);
            else at(["username"], `${limits.show(fields.username)} gives the gateway name ${limits.show(gateway)}, already used by ${other(j)}; set a distinct gatewayName)`);
        }
        budget({ valid: fields, raw }, defaults, at);
    });
    return problems;
}

/** Values that passed their checks (`valid`) beside what the file holds (`raw`), to tell "absent" from "invalid". */
export interface Checked<T> {
    valid: Partial<T>;
    raw: unknown;
}

/** `obj.a.b` of unknown data, or undefined. */
function dig(obj: unknown, ...keys: string[]): unknown {
    return keys.reduce<unknown>((o, k) => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined), obj);
}

/**
 * The selection's memory estimates plus the OS headroom must fit the VM. Uses the
 * user's value, else the default, else the built-in default; skipped when the
 * value it would use is present but invalid (that problem is reported already).
 */
function budget(user: Checked<Entry>, defaults: Checked<Defaults>, at: (field: PropertyKey[], message: string) => void): void {
    const pick = <T>(mine: T | undefined, mineRaw: unknown, theirs: T | undefined, theirsRaw: unknown, builtIn: T): T | undefined => {
        if (mineRaw !== undefined) return mine;
        if (theirsRaw !== undefined) return theirs;
        return builtIn;
    };
    const optional = pick(user.valid.services, dig(user.raw, "services"), defaults.valid.services, dig(defaults.raw, "services"), []);
    const memoryGb = pick(user.valid.vm?.memoryGb, dig(user.raw, "vm", "memoryGb"), defaults.valid.vm?.memoryGb, dig(defaults.raw, "vm", "memoryGb"), limits.VM_DEFAULTS.memoryGb);
    if (optional === undefined || memoryGb === undefined) return;
    const services = resolveServices(optional);
    const needed = memoryNeededMb(services);
    const has = Math.round(memoryGb * 1024);
    if (needed > has) {
        const parts = services.map((s) => `${s} ${CATALOG[s].memoryMb}`).join(" + ");
        at(
            [user.valid.services ? "services" : user.valid.vm?.memoryGb !== undefined ? "vm" : "username"],
            `the selection needs ${needed} MB (${parts}, plus ${OS_HEADROOM_MB} MB for the OS) but the VM has ${has} MB (drop optional services or raise vm.memoryGb)`,
        );
    }
}

