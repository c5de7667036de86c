/**
 * The provider objects Pulumi serializes into state, one per dynamic resource kind.
 *
 * They are the exports of `hero-os-grid-deployer-shims/v1/<kind>.js`, a package in
 * providers/shims/ that `npm ci` installs as a COPY into node_modules (.npmrc
 * `install-links=true`). Pulumi's closure serializer captures a module under
 * node_modules by name, so the state of each resource holds only
 * `require("hero-os-grid-deployer-shims/v1/<kind>.js")`, some 300 bytes, instead
 * of the provider's code. Each shim method loads the real implementation (the
 * TypeScript modules in this folder, linked as the workspace package
 * `hero-os-grid-deployer-providers`, entry runtime.js) from the project's
 * node_modules when it first runs. The engine starts the dynamic-provider host in
 * the Pulumi.yaml directory, which is where both packages resolve.
 *
 * FROZEN: the names `v1/<kind>.js` and what the shim does with them live on in
 * state. Never change a shipped shim; add `v2/` beside it, point SHIMS at it, keep
 * v1 working, and add the new serialized text to test/fixtures/shims/. The rule
 * for the implementation behind every entry: it accepts every state shape that
 * any earlier version wrote.
 */
import type * as pulumi from "@pulumi/pulumi";

/* eslint-disable @typescript-eslint/no-require-imports */
/** The shims the resource classes use today (version 1; forgeLogin joined it later, the others' text unchanged). */
export const SHIMS: Record<"forgeAccount" | "feedbackHub" | "vm" | "gateway" | "forgeLogin", pulumi.dynamic.ResourceProvider> = {
    forgeAccount: require("hero-os-grid-deployer-shims/v1/forge-account.js"),
    feedbackHub: require("hero-os-grid-deployer-shims/v1/feedback-hub.js"),
    vm: require("hero-os-grid-deployer-shims/v1/vm.js"),
    gateway: require("hero-os-grid-deployer-shims/v1/gateway.js"),
    // Added to v1 with issue 22: a new kind under the same calling convention (make.js unchanged).
    forgeLogin: require("hero-os-grid-deployer-shims/v1/forge-login.js"),
};
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * The resource options of every dynamic resource here: each one's create adopts
 * this stack's own leftover by proof (a VM with its deployer key, a gateway to its
 * VM, an account, hub or login with its marker). `pulumi up --replace <urn>` does
 * not ask the provider's diff: the engine blames the id and, unless this option
 * says otherwise, creates the replacement before deleting the old. That create
 * would find the very object it replaces, carrying this stack's proof, and adopt
 * it; the delete of the old record would then delete what the new record names.
 * Deleting first makes `--replace` a real replacement.
 */
export function replaceDeletesFirst(opts?: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions {
    return { ...opts, deleteBeforeReplace: true };
}
