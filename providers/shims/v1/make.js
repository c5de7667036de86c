"use strict";
/**
 * Version 1 of the dynamic providers' shim. FROZEN once shipped: the state of
 * every resource created with it says `require("hero-os-grid-deployer-shims/v1/<kind>.js")`,
 * and Pulumi runs that on refresh and delete for as long as the resource lives.
 * Never change what this file does; a new calling convention goes in v2/.
 *
 * Each method loads the kind's implementation from the project's node_modules
 * (the workspace package hero-os-grid-deployer-providers, entry v1) on first use,
 * as an Object.create() copy that holds this shim's settings, and calls the
 * same-named method on it.
 */
module.exports = function makeShim(kind) {
    const shim = {
        kind,
        impl() {
            if (!this.loaded) {
                let entry;
                try {
                    entry = require("hero-os-grid-deployer-providers");
                } catch (err) {
                    if (!/'hero-os-grid-deployer-providers'/.test(String(err && err.message))) throw err;
                    throw new Error(
                        `the Hero OS Grid Deployer's providers are not installed where Pulumi runs this ${kind} provider (${process.cwd()}): ` +
                            "run pulumi in the project directory (the one with Pulumi.yaml), after `npm ci` there",
                    );
                }
                this.loaded = Object.create(entry.v1(kind));
            }
            return this.loaded;
        },
    };
    for (const method of ["configure", "check", "diff", "create", "read", "update", "delete"]) {
        shim[method] = function (...args) {
            return this.impl()[method](...args);
        };
    }
    return shim;
};
