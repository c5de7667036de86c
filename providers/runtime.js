"use strict";
/**
 * The entry the serialized shims (providers/shims.ts) require from the project's
 * node_modules, where `npm ci` links this workspace. Plain JavaScript because
 * Pulumi's dynamic-provider host runs plain Node and never registers ts-node: this
 * file registers it (transpile only) for the TypeScript implementation modules,
 * so `npm ci` alone leaves a working host, with no build step to forget.
 *
 * FROZEN NAMES: every entry here (`v1`, and its kinds) is named by shim text that
 * lives on in state. Never remove or rename one; a new calling convention gets a
 * new entry (`v2`) next to the old ones. The implementation behind every entry
 * must accept every state shape that any earlier version wrote.
 */
const path = require("path");

/** v1: the kind's implementation, a ResourceProvider object; the shim calls its methods on an Object.create() copy. */
const V1 = {
    forgeAccount: () => require("./forge/account").forgeAccountProvider,
    feedbackHub: () => require("./forge/feedback-hub").feedbackHubProvider,
    vm: () => require("./compute/vm").vmProvider,
    gateway: () => require("./compute/gateway").gatewayProvider,
    forgeLogin: () => require("./forge/oauth-app").forgeOAuthAppProvider,
};

function registerTypeScript() {
    if (require.extensions[".ts"]) {
        return; // already under ts-node (a program or test process)
    }
    require("ts-node").register({
        transpileOnly: true,
        project: path.join(__dirname, "..", "tsconfig.json"),
    });
}

exports.v1 = function v1(kind) {
    const load = V1[kind];
    if (!load) {
        throw new Error(`hero-os-grid-deployer-providers: no provider kind "${kind}" in entry v1 (known: ${Object.keys(V1).join(", ")})`);
    }
    registerTypeScript();
    return load();
};
