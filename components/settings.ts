import * as pulumi from "@pulumi/pulumi";
import { insecureUrlProblem } from "../providers/url-rules";
import { stackIdentity, type StackIdentity } from "../providers/ownership";
import { defaultNamePrefix } from "./naming";
import type { StepEnv } from "./render";

/** The stack config namespace: the project name in Pulumi.yaml. */
export const CONFIG_NAMESPACE = "hero-os-grid-deployer";

export type LabChannel = "latest" | "latest-dev";

/**
 * Stack settings the program itself needs. The secrets `forgeToken` and
 * `computeToken` are deliberately absent: the dynamic providers read them
 * through `configure()`, so they never enter resource inputs or state.
 */
export interface DeployerSettings {
    /** Path of the users file, relative to the project or absolute. @default "users/users.yaml" */
    usersFile: string;
    /** Forge base URL, e.g. `https://forge.ourworld.tf`. */
    forgeUrl: string;
    /** Hero Compute endpoint: `https://…`, `http://127.0.0.1…` or `unix:///…/rpc.sock`. */
    computeUrl: string;
    /**
     * The Hero Compute binding file: how our operations map onto the live methods, params and fields.
     * Relative to the project, or absolute. @default "providers/compute/binding.json"
     * @example "bindings/our-compute.json"
     */
    computeBinding?: string;
    /** The grid node of the web gateways, for a binding that sends one (`computeGatewayNode`). @default unset (the service picks) */
    computeGatewayNode?: number;
    /** Forge repo that receives feedback issues. @default "lhumina_public/feedback" */
    feedbackRepo: string;
    /** Git URL of the public Books demo collection. */
    booksRepo: string;
    /** Release channel `lab` installs from. @default "latest" */
    labChannel: LabChannel;
    /** The release (tag) `lab` itself is downloaded from. @default the labChannel @example "v0.9.2" */
    labRelease: string;
    /**
     * SHA-256 of that release's `lab-linux-amd64` (64 hex digits): `lab` runs as root only when it matches.
     * Unset: the install step stops and says to set it. @example "9f86d081884c7d65…"
     */
    labSha256?: string;
    /** Deploys in flight against Hero Compute at once. @default 3 */
    computeConcurrency: number;
    /** How long a VM may take to get its mycelium address. @default 15 */
    vmReadyTimeoutMinutes: number;
    /**
     * Forge logins that may pass every environment's front door besides its own user
     * (config `frontDoorAdmins`, comma-separated). @default [] @example ["ana", "ben"]
     */
    frontDoorAdmins: string[];
    /** Delete Forge accounts this tool created when their user is torn down. @default false */
    purgeAccountsOnTeardown: boolean;
    /** Delete the feedback org and repo on teardown, if this tool created them. @default false */
    purgeFeedbackHubOnTeardown: boolean;
    /** Prefix of VM and gateway names on the grid. @default 6 letters or digits of the stack name, then 4 hex digits of the stack identity */
    namePrefix: string;
    /** Whether `namePrefix` was set in the stack config (an explicit override) or is the default. */
    namePrefixSet: boolean;
    /** This stack's identity, from `<organization>/<project>/<stack>`: what marks the objects it owns. */
    identity: StackIdentity;
    /**
     * Rehearsal only, leave unset: where the bootstrap reaches each fake VM
     * (its SSH port, and per user a throwaway root and local URLs), and where
     * the bundles are written locally.
     * @default {}
     */
    bootstrapOverrides: BootstrapOverrides;
}

export interface BootstrapOverrides {
    port?: number;
    /** Where the per-user bundles are written before they are copied. @default ".hero-bootstrap" (in the project) */
    bundleDir?: string;
    /** The SSH login on the fake VMs: the user running the rehearsal. @default "root" */
    sshUser?: string;
    users?: Record<string, Partial<StepEnv>>;
}

export const DEFAULTS = {
    usersFile: "users/users.yaml",
    feedbackRepo: "lhumina_public/feedback",
    booksRepo: "https://forge.ourworld.tf/lhumina_public/ourworld_public.git",
    labChannel: "latest" as LabChannel,
    computeConcurrency: 3,
    vmReadyTimeoutMinutes: 15,
    purgeAccountsOnTeardown: false,
    purgeFeedbackHubOnTeardown: false,
};

/** Reads the stack config, applying the documented defaults. */
export function readSettings(config = new pulumi.Config(CONFIG_NAMESPACE)): DeployerSettings {
    // Where tokens and root's downloads go, checked first: before any request.
    const computeUrl = config.require("computeUrl");
    const computeProblem = insecureUrlProblem(computeUrl, `config ${CONFIG_NAMESPACE}:computeUrl`, { unix: true });
    if (computeProblem) throw new pulumi.RunError(computeProblem);
    const booksRepo = config.get("booksRepo") ?? DEFAULTS.booksRepo;
    if (!/^https:\/\/[^\s'"]+$/.test(booksRepo)) {
        throw new pulumi.RunError(`config ${CONFIG_NAMESPACE}:booksRepo must be an https:// Git URL (the VM clones it as root), not "${booksRepo}"`);
    }
    const labChannel = config.get("labChannel") ?? DEFAULTS.labChannel;
    if (labChannel !== "latest" && labChannel !== "latest-dev") {
        throw new pulumi.RunError(`config ${CONFIG_NAMESPACE}:labChannel must be "latest" or "latest-dev", not "${labChannel}"`);
    }
    const labRelease = config.get("labRelease") || labChannel;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(labRelease)) {
        throw new pulumi.RunError(`config ${CONFIG_NAMESPACE}:labRelease must be a release tag (letters, digits, dots, dashes), not "${labRelease}"`);
    }
    const labSha256 = config.get("labSha256")?.trim().toLowerCase() || undefined;
    if (labSha256 !== undefined && !/^[0-9a-f]{64}$/.test(labSha256)) {
        throw new pulumi.RunError(`config ${CONFIG_NAMESPACE}:labSha256 must be a SHA-256 (64 hex digits), not "${labSha256}"`);
    }
    const frontDoorAdmins = parseLogins(config.get("frontDoorAdmins") ?? "");
    const identity = stackIdentity(pulumi.getOrganization(), pulumi.getProject(), pulumi.getStack());
    const configuredPrefix = config.get("namePrefix");
    const namePrefix = configuredPrefix ?? defaultNamePrefix(pulumi.getStack(), identity.id);
    if (!/^[a-z0-9]{0,12}$/.test(namePrefix)) {
        throw new pulumi.RunError(`config ${CONFIG_NAMESPACE}:namePrefix must be at most 12 lowercase letters or digits, not "${namePrefix}"`);
    }
    return {
        usersFile: config.get("usersFile") ?? DEFAULTS.usersFile,
        forgeUrl: config.require("forgeUrl").replace(/\/+$/, ""),
        computeUrl,
        computeBinding: config.get("computeBinding") || undefined,
        computeGatewayNode: config.getNumber("computeGatewayNode", { min: 1 }),
        feedbackRepo: config.get("feedbackRepo") ?? DEFAULTS.feedbackRepo,
        booksRepo,
        labChannel,
        labRelease,
        labSha256,
        computeConcurrency: config.getNumber("computeConcurrency", { min: 1, max: 20 }) ?? DEFAULTS.computeConcurrency,
        vmReadyTimeoutMinutes: config.getNumber("vmReadyTimeoutMinutes", { min: 0.01, max: 120 }) ?? DEFAULTS.vmReadyTimeoutMinutes,
        frontDoorAdmins,
        purgeAccountsOnTeardown: config.getBoolean("purgeAccountsOnTeardown") ?? DEFAULTS.purgeAccountsOnTeardown,
        purgeFeedbackHubOnTeardown: config.getBoolean("purgeFeedbackHubOnTeardown") ?? DEFAULTS.purgeFeedbackHubOnTeardown,
        namePrefix,
        namePrefixSet: configuredPrefix !== undefined,
        identity,
        bootstrapOverrides: parseOverrides(config.get("bootstrapOverrides")),
    };
}

/** `frontDoorAdmins`: Forge logins, comma- or space-separated, each checked, duplicates (ignoring case) dropped. */
export function parseLogins(text: string): string[] {
    const logins = text.split(/[\s,]+/).filter((l) => l !== "");
    const bad = logins.filter((l) => !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/.test(l));
    if (bad.length > 0) {
        throw new pulumi.RunError(`config ${CONFIG_NAMESPACE}:frontDoorAdmins must list Forge logins separated by commas, e.g. "ana,ben"; not a login: ${bad.map((b) => JSON.stringify(b)).join(", ")}`);
    }
    const unique: string[] = [];
    for (const l of logins) if (!unique.some((u) => u.toLowerCase() === l.toLowerCase())) unique.push(l);
    return unique;
}

function parseOverrides(text: string | undefined): BootstrapOverrides {
    if (!text) {
        return {};
    }
    try {
        const o = JSON.parse(text) as BootstrapOverrides;
        if (typeof o !== "object" || o === null || (o.port !== undefined && !Number.isInteger(o.port)) || (o.sshUser !== undefined && typeof o.sshUser !== "string")) {
            throw new Error("not { port?, sshUser?, users?, bundleDir? }");
        }
        return o;
    } catch (err) {
        throw new pulumi.RunError(`config ${CONFIG_NAMESPACE}:bootstrapOverrides (rehearsal only; leave it unset) is not valid: ${(err as Error).message}`);
    }
}
