/**
 * The real file backend's checkpoint, read as the tests need it: resources by
 * URN with their inputs, outputs, dependencies and parent. `loadState` reads the
 * file as it lies on disk (secrets are ciphertext there); `exportState` asks the
 * CLI (`pulumi stack export --show-secrets`) for the same with secrets shown.
 */
import * as fs from "fs";
import type { Workspace } from "./workspace";

export type Props = Record<string, any>;

export interface StateResource {
    urn: string;
    type: string;
    name: string;
    custom: boolean;
    parent?: string;
    id: string;
    inputs: Props;
    outputs: Props;
    deps: string[];
    deletedWith?: string;
}

export interface State {
    resources: Record<string, StateResource>;
}

/** The property the engine marks a secret with, and its value. */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** A value with every shown secret (`{<sig>: …, plaintext: "<json>"}`, as export --show-secrets prints it) replaced by its value. */
export function unwrapShown(v: any): any {
    if (Array.isArray(v)) return v.map(unwrapShown);
    if (v === null || typeof v !== "object") return v;
    if (SECRET_SIG in v && typeof v.plaintext === "string") return unwrapShown(JSON.parse(v.plaintext));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapShown(x)]));
}

function fromDeployment(deployment: any): State {
    const resources: Record<string, StateResource> = {};
    for (const r of deployment?.resources ?? []) {
        resources[r.urn] = {
            urn: r.urn,
            type: r.type,
            name: r.urn.split("::").pop(),
            custom: !!r.custom,
            parent: r.parent || undefined,
            id: r.id ?? "",
            inputs: r.inputs ?? {},
            outputs: r.outputs ?? {},
            deps: r.dependencies ?? [],
            deletedWith: r.deletedWith || undefined,
        };
    }
    return { resources };
}

/** The checkpoint as stored (no stack yet: no resources). */
export function loadState(file: string): State {
    if (!fs.existsSync(file)) return { resources: {} };
    return fromDeployment(JSON.parse(fs.readFileSync(file, "utf8")).checkpoint?.latest);
}

/** The stack's state with secrets shown, through the CLI. */
export async function exportState(ws: Workspace, stack: string): Promise<State> {
    return fromDeployment(unwrapShown(JSON.parse(await ws.must(["stack", "export", "--show-secrets", "--stack", stack])).deployment));
}

/** Whether `value` (a property from loadState) is an encrypted secret. */
export function isCiphertext(value: unknown): boolean {
    return typeof value === "object" && value !== null && SECRET_SIG in value && "ciphertext" in value;
}
