/**
 * The bootstrap of one user's VM over SSH, in the order VM → host-key →
 * host-key-check → scripts → ready → install → services → front-door →
 * cockpit-settings → books → health. `host-key` pins the VM's SSH host key at the
 * first connection and `host-key-check` re-reads it before anything else runs
 * (`components/host-key.ts`); every later resource connects with that pin.
 * `scripts` is a `remote.CopyToRemote` of the user's bundle (`components/bundle.ts`:
 * the scripts and every step's parameters, in one file whose state keeps only a path
 * and a hash); each later step is a `remote.Command` whose stdin is a few lines that
 * run its part of the bundle. What the steps run is `components/scripts/<step>.sh`.
 */
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import type { DemoUser } from "../users/types";
import { BUNDLE_DIR, bundleRemotePath, renderBundle, renderRunner, stepCommand, writeBundle, type StepSecrets } from "./bundle";
import { createHostKeyPin, stepConnection, stepsDigest, type HostKeyPin } from "./host-key";
import { childName } from "./naming";
import { STEPS, defaultEnv, renderTriggers, type StepEnv, type StepName, type StepValues } from "./render";
import type { LabChannel } from "./settings";

export { STEPS, type StepName } from "./render";

export interface BootstrapArgs {
    user: DemoUser;
    /** The VM resource: every step has `deletedWith: vm`, and the first depends on it. */
    vm: pulumi.Resource;
    /** The VM's grid name and id, and `<computeEndpoint>#<vmId>`: a new identity is a new VM, so a new host-key pin. */
    vmName: string;
    vmId: pulumi.Input<string>;
    vmIdentity: pulumi.Input<string>;
    /** The VM's mycelium IP. */
    host: pulumi.Input<string>;
    /**
     * Secret: the VM's ED25519 key, PKCS#8 PEM (`tls.PrivateKey.privateKeyPemPkcs8`), which
     * pulumi-command parses with golang.org/x/crypto/ssh's ParsePrivateKey, as it does the
     * OpenSSH form; the PEM is 119 bytes, the OpenSSH form some 400, in every SSH resource.
     */
    privateKey: pulumi.Input<string>;
    /** `https://<fqdn>` of the user's web gateway. */
    gatewayUrl: pulumi.Input<string>;
    forgeUrl: string;
    forgeLogin: pulumi.Input<string>;
    /** Secret; may be "" when the user brings their own. Only the cockpit-settings step sees it. */
    forgeToken: pulumi.Input<string>;
    /**
     * The front door's Forge login: the OAuth2 application's client id, and (secrets) its
     * client secret and Hero Proxy's session secret; `admins` may pass besides the user.
     */
    login: { clientId: pulumi.Input<string>; clientSecret: pulumi.Input<string>; sessionSecret: pulumi.Input<string>; admins: string[] };
    feedbackRepo: string;
    booksRepo: string;
    labChannel: LabChannel;
    /** The release `lab` is downloaded from, and its SHA-256 (stack config labRelease, labSha256). @default { release: labChannel } */
    lab?: { release?: string; sha256?: string };
    /** Overrides of where and how the scripts run (tests, slow nodes). @default defaultEnv(host, labChannel, lab) */
    env?: Partial<StepEnv>;
    /** SSH port. @default 22 */
    port?: number;
    /** SSH user. @default "root" */
    sshUser?: string;
    /**
     * Local directory the bundles are written to before they are copied, relative to the
     * project (Pulumi runs the program there) or absolute.
     * @default ".hero-bootstrap"
     */
    bundleDir?: string;
}

/** What a user's bootstrap registers: the host-key pin, the scripts copy and the steps. */
export interface Bootstrap {
    hostKey: HostKeyPin;
    scripts: remote.CopyToRemote;
    steps: Record<StepName, remote.Command>;
}

/**
 * Dial retries for a booting VM: a VM gets its mycelium address before sshd listens,
 * and a first boot can take minutes. 60 failed dials × up to 10 s each, plus the
 * provider's pause between dials, covers about 10 minutes.
 */
export const DIAL_ERROR_LIMIT = 60;
export const PER_DIAL_TIMEOUT_SEC = 10;

/**
 * What each step logs. Only cockpit-settings (the Forge token) and front-door (the
 * login's secrets) handle a secret: their stdout is not logged, their stderr (failure
 * messages, redacted by the script) is, and both are secret outputs in state.
 */
export const STEP_LOGGING: Readonly<Record<StepName, types.enums.remote.Logging>> = {
    ready: "stdoutAndStderr",
    install: "stdoutAndStderr",
    services: "stdoutAndStderr",
    "front-door": "stderr",
    "cockpit-settings": "stderr",
    books: "stdoutAndStderr",
    health: "stdoutAndStderr",
};

/**
 * pulumi-command's own default for `logging` (stdout and stderr). A step that logs so
 * does not send it: an input left out is 29 bytes less in that step's state, inputs
 * and outputs.
 */
export const DEFAULT_LOGGING: types.enums.remote.Logging = "stdoutAndStderr";

/** The `logging` input a step sends: nothing when it is the provider's default. */
export function loggingInput(logging: types.enums.remote.Logging): types.enums.remote.Logging | undefined {
    return logging === DEFAULT_LOGGING ? undefined : logging;
}

/** Steps whose stdin carries a secret. */
export const SECRET_STEPS: ReadonlySet<StepName> = new Set<StepName>(["front-door", "cockpit-settings"]);

/**
 * The SSH connection of a user's bootstrap before its host key is pinned: what the
 * host-key steps use. Every other resource adds the pin (`stepConnection`).
 */
export function bootstrapConnection(args: Pick<BootstrapArgs, "host" | "port" | "sshUser" | "privateKey">): types.input.remote.ConnectionArgs {
    return {
        host: args.host,
        port: args.port ?? 22,
        user: args.sshUser ?? "root",
        privateKey: args.privateKey,
        dialErrorLimit: DIAL_ERROR_LIMIT,
        perDialTimeout: PER_DIAL_TIMEOUT_SEC,
    };
}

export function createBootstrap(parent: pulumi.ComponentResource, args: BootstrapArgs): Bootstrap {
    const { user } = args;
    const username = user.username.toLowerCase();
    const unpinned = bootstrapConnection(args);
    // Known now: where the scripts live and how long a boot may take (they do not depend on the VM).
    const { root, readyTimeoutSec } = { ...defaultEnv("", args.labChannel, args.lab), ...args.env };
    // One apply per user renders everything: the bundle (written to disk), the triggers.
    const admins = [...args.login.admins];
    const plan = pulumi.all([args.host, args.gatewayUrl, args.forgeLogin, args.login.clientId, args.vmIdentity]).apply(([host, gatewayUrl, forgeLogin, clientId, vm]) => {
        const v: StepValues = {
            user: { username: user.username, fullName: user.fullName, email: user.email, services: [...user.services] },
            host,
            gatewayUrl,
            forgeUrl: args.forgeUrl,
            forgeLogin,
            feedbackRepo: args.feedbackRepo,
            booksRepo: args.booksRepo,
            labChannel: args.labChannel,
            login: { clientId, admins },
        };
        const env: StepEnv = { ...defaultEnv(host, args.labChannel, args.lab), ...args.env };
        const bundle = renderBundle(v, env);
        const file = writeBundle(args.bundleDir ?? BUNDLE_DIR, user.username, bundle);
        // The text stays on disk only: what the steps need is its digests.
        return { digests: bundle.digests, sha: bundle.sha, file, host, vm, triggers: renderTriggers({ ...v, services: v.user.services, vm }) };
    });
    type Plan = pulumi.Unwrap<typeof plan>;
    // Every step's stdin; the Forge token only in cockpit-settings', the login's secrets only in front-door's.
    const runners = (p: Plan, secrets: StepSecrets = {}) =>
        Object.fromEntries(STEPS.map((step) => [step, renderRunner(step, username, root, p.digests[step], SECRET_STEPS.has(step) ? secrets : undefined)])) as Record<StepName, string>;
    const secrets: pulumi.Output<StepSecrets> = pulumi.secret(
        pulumi.all([args.forgeToken, args.login.clientSecret, args.login.sessionSecret]).apply(([forgeToken, clientSecret, sessionSecret]) => ({ forgeToken, clientSecret, sessionSecret })),
    );

    const stdins = {} as Record<StepName, pulumi.Output<string>>;
    for (const step of STEPS) {
        stdins[step] = SECRET_STEPS.has(step) ? pulumi.secret(pulumi.all([plan, secrets]).apply(([p, s]) => runners(p, s)[step])) : plan.apply((p) => runners(p)[step]);
    }
    const hostKey = createHostKeyPin(parent, {
        username: user.username,
        vm: args.vm,
        vmIdentity: args.vmIdentity,
        vmName: args.vmName,
        vmId: args.vmId,
        connection: unpinned,
        root,
        readyTimeoutSec,
        // Whatever the later resources send: when it changes, the check runs first. Secret (the secrets are in it).
        stepsDigest: pulumi.secret(
            pulumi.all([plan, secrets]).apply(([p, s]) => stepsDigest({ bundle: p.sha, triggers: p.triggers, stdins: runners(p, s), port: unpinned.port, user: unpinned.user })),
        ),
    });
    // One Output for the scripts copy and every step, pinned: the SDK resolves it once.
    const connection = pulumi.output(stepConnection(unpinned, hostKey.hostKey));

    const scripts = new remote.CopyToRemote(
        childName(user.username, "scripts"),
        {
            connection,
            source: plan.apply((p) => new pulumi.asset.FileAsset(p.file)),
            remotePath: bundleRemotePath(root),
            // Replaced, so copied again, whenever the bundle's text or the VM (its address or identity) changes.
            triggers: plan.apply((p) => [`host=${p.host}`, `vm=${p.vm}`, `bundle=${p.sha}`]),
        },
        { parent, dependsOn: [hostKey.check], deletedWith: args.vm },
    );

    const steps = {} as Record<StepName, remote.Command>;
    let previous: pulumi.Resource = scripts;
    for (const step of STEPS) {
        const secret = SECRET_STEPS.has(step);
        steps[step] = new remote.Command(
            childName(user.username, step),
            {
                connection,
                create: stepCommand(step),
                stdin: stdins[step],
                triggers: plan.apply((p) => p.triggers[step]),
                logging: loggingInput(STEP_LOGGING[step]),
                addPreviousOutputInEnv: false,
            },
            {
                parent,
                dependsOn: [previous],
                deletedWith: args.vm,
                additionalSecretOutputs: secret ? ["stdout", "stderr"] : undefined,
            },
        );
        previous = steps[step];
    }
    return { hostKey, scripts, steps };
}
