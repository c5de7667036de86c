/**
 * Proof of ownership, in one place. Several stacks (cohorts, staging) share one
 * Forge and one Hero Compute, so a name is no proof that an object is ours:
 * - a stack identity, deterministic from `<organization>/<project>/<stack>`;
 * - the marker this stack writes into the descriptions of the Forge objects it
 *   creates, and how to read whose marker a description carries;
 * - the per-stack name of the cockpit's Forge token;
 * - the SSH key test that proves a VM was deployed by this deployment (it
 *   carries the user's deployer key, which is in state before the VM exists).
 * Pure functions: no network, no Pulumi runtime.
 */
import { createHash } from "crypto";

/** Who this stack is: its full name and a short hash of it. */
export interface StackIdentity {
    /** `<organization>/<project>/<stack>`, e.g. `organization/hero-os-grid-deployer/dev`. */
    stack: string;
    /** The first 8 hex digits of the SHA-256 of `stack`. @example "3f9a1c2b" */
    id: string;
}

export function stackIdentity(organization: string, project: string, stack: string): StackIdentity {
    const full = `${organization}/${project}/${stack}`;
    return { stack: full, id: createHash("sha256").update(full).digest("hex").slice(0, 8) };
}

/** The marker every release before stack identities wrote: it names no stack, so it proves nothing. */
export const LEGACY_MARKER = "[managed by hero-os-grid-deployer]";
const MARKER_RE = /\[managed by hero-os-grid-deployer(?:, stack (\S+) ([0-9a-f]{8}))?\]/;

/** The marker of one stack, e.g. `[managed by hero-os-grid-deployer, stack organization/hero-os-grid-deployer/dev 3f9a1c2b]`. */
export function ownerMarker(identity: StackIdentity): string {
    return `[managed by hero-os-grid-deployer, stack ${identity.stack} ${identity.id}]`;
}

/** Whose marker a description carries. */
export type MarkerOwner =
    | { kind: "ours" }
    /** Another stack's marker: its full name and id. */
    | { kind: "other"; stack: string; id: string }
    /** The marker of a release before stack identities: some deployment of this tool, which one cannot be told. */
    | { kind: "legacy" }
    | { kind: "none" };

export function markerOwner(description: string | undefined | null, identity: StackIdentity): MarkerOwner {
    const m = MARKER_RE.exec(description ?? "");
    if (!m) return { kind: "none" };
    if (m[1] === undefined) return { kind: "legacy" };
    return m[2] === identity.id ? { kind: "ours" } : { kind: "other", stack: m[1], id: m[2] };
}

/** The description with every marker (ours, another's, legacy) replaced by this stack's. */
export function withOwnerMarker(description: string, identity: StackIdentity): string {
    const marker = ownerMarker(identity);
    const stripped = description.replace(new RegExp(MARKER_RE.source, "g"), "").replace(/\s+$/, "");
    return stripped === "" ? marker : `${stripped} ${marker}`;
}

/** In words, for outputs and messages: who manages an object this stack does not own. */
export function managedElsewhere(owner: MarkerOwner): string {
    switch (owner.kind) {
        case "other":
            return `managed by stack ${owner.stack} (${owner.id})`;
        case "legacy":
            return "marked by a deployment of hero-os-grid-deployer from before stack identities; which stack cannot be told";
        case "none":
            return "not created by hero-os-grid-deployer";
        case "ours":
            return "managed by this stack";
    }
}

/** The cockpit token's name on Forge: one per stack, so that no stack revokes another's. */
export function cockpitTokenName(identity: StackIdentity): string {
    return `hero-cockpit-${identity.id}`;
}

/** The name of the cockpit token before stack identities; state written then still records it by id. */
export const LEGACY_TOKEN_NAME = "hero-cockpit";

/** An OpenSSH public key line's type and base64 blob, without its comment: what identifies the key. */
export function keyBlob(line: string): string {
    return line.trim().split(/\s+/).slice(0, 2).join(" ");
}

/** Whether `keys` (a VM's authorised keys, as Hero Compute reports them) hold `key`, comments ignored. */
export function carriesKey(keys: readonly string[] | undefined | null, key: string): boolean {
    const wanted = keyBlob(key);
    return Array.isArray(keys) && keys.some((k) => typeof k === "string" && keyBlob(k) === wanted);
}
