/**
 * The bootstrap of one user's VM over SSH: the host-key pin (`components/host-key.ts`),
 * then one `remote.Command` per step, in the order
 * VM → host-key → host-key-check → ready → install → services → front-door → cockpit-settings → books → health.
 * What each step sends is rendered by `components/render.ts`; what it runs is
 * `components/scripts/<step>.sh`.
 */
import * as pulumi from "@pulumi/pulumi";
import { remote, types } from "@pulumi/command";
import type { DemoUser } from "../users/types";
import { createHostKeyPin, stepConnection, type HostKeyPin } from "./host-key";
import { childName } from "./naming";
import { STEPS, defaultEnv, renderStep, renderTriggers, stepCommand, type StepEnv, type StepName, type StepValues } from "./render";
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
    /** Secret, OpenSSH format, from `tls.PrivateKey.privateKeyOpenssh`. */
    privateKey: pulumi.Input<string>;
    /** `https://<fqdn>` of the user's web gateway. */
    gatewayUrl: pulumi.Input<string>;
    forgeUrl: string;
    forgeLogin: pulumi.Input<string>;
    /** Secret; may be "" when the user brings their own. Only the cockpit-settings step sees it. */
    forgeToken: pulumi.Input<string>;
    feedbackRepo: string;
    booksRepo: string;
    labChannel: LabChannel;
    /** Overrides of where and how the scripts run (tests, slow nodes). @default defaultEnv(host, labChannel) */
    env?: Partial<StepEnv>;
    /** SSH port. @default 22 */
    port?: number;
    /** SSH user. @default "root" */
    sshUser?: string;
}

/**
 * Dial retries for a booting VM: a VM gets its mycelium address before sshd listens,
 * and a first boot can take minutes. 60 failed dials × up to 10 s each, plus the
 * provider's pause between dials, covers about 10 minutes.
 */
export const DIAL_ERROR_LIMIT = 60;
export const PER_DIAL_TIMEOUT_SEC = 10;

/**
 * What each step logs. Only cockpit-settings handles a secret: its stdout is not
 * logged, its stderr (failure messages, redacted by the script) is, and both are
 * secret outputs in state.
 */
export const STEP_LOGGING: Readonly<Record<StepName, types.enums.remote.Logging>> = {
    ready: "stdoutAndStderr",
    install: "stdoutAndStderr",
    services: "stdoutAndStderr",
    "front-door": "stdoutAndStderr",
    "cockpit-settings": "stderr",
    books: "stdoutAndStderr",
    health: "stdoutAndStderr",
};

/** Steps whose stdin carries a secret. */
export const SECRET_STEPS: ReadonlySet<StepName> = new Set<StepName>(["cockpit-settings"]);

/** The bootstrap of one VM: the host-key pin, then the steps. */
export interface Bootstrap {
    hostKey: HostKeyPin;
    steps: Record<StepName, remote.Command>;
}

export function createBootstrap(parent: pulumi.ComponentResource, args: BootstrapArgs): Bootstrap {
    const { user } = args;
    const unpinned: types.input.remote.ConnectionArgs = {
        host: args.host,
        port: args.port ?? 22,
        user: args.sshUser ?? "root",
        privateKey: args.privateKey,
        dialErrorLimit: DIAL_ERROR_LIMIT,
        perDialTimeout: PER_DIAL_TIMEOUT_SEC,
    };
    const values: pulumi.Output<StepValues> = pulumi
        .all([args.host, args.gatewayUrl, args.forgeLogin])
        .apply(([host, gatewayUrl, forgeLogin]) => ({
            user: { username: user.username, fullName: user.fullName, email: user.email, services: [...user.services] },
            host,
            gatewayUrl,
            forgeUrl: args.forgeUrl,
            forgeLogin,
            feedbackRepo: args.feedbackRepo,
            booksRepo: args.booksRepo,
            labChannel: args.labChannel,
        }));
    const envOf = (v: StepValues): StepEnv => ({ ...defaultEnv(v.host, v.labChannel), ...args.env });
    const triggers = values.apply((v) => renderTriggers({ ...v, services: v.user.services }));

    const stdins = {} as Record<StepName, pulumi.Output<string>>;
    for (const step of STEPS) {
        stdins[step] = SECRET_STEPS.has(step)
            ? pulumi.secret(pulumi.all([values, args.forgeToken]).apply(([v, forgeToken]) => renderStep(step, v, envOf(v), { forgeToken }).stdin))
            : values.apply((v) => renderStep(step, v, envOf(v)).stdin);
    }
    const hostKey = createHostKeyPin(parent, {
        username: user.username,
        vm: args.vm,
        vmIdentity: args.vmIdentity,
        vmName: args.vmName,
        vmId: args.vmId,
        connection: unpinned,
        root: values.apply((v) => envOf(v).root),
        readyTimeoutSec: values.apply((v) => envOf(v).readyTimeoutSec),
        steps: { triggers, stdins, port: unpinned.port, user: unpinned.user },
    });
    const connection = stepConnection(unpinned, hostKey.hostKey);

    const steps = {} as Record<StepName, remote.Command>;
    let previous: pulumi.Resource = hostKey.check;
    for (const step of STEPS) {
        steps[step] = new remote.Command(
            childName(user.username, step),
            {
                connection,
                create: stepCommand(step),
                stdin: stdins[step],
                triggers: triggers.apply((t) => t[step]),
                logging: STEP_LOGGING[step],
                addPreviousOutputInEnv: false,
            },
            {
                parent,
                dependsOn: [previous],
                deletedWith: args.vm,
                additionalSecretOutputs: SECRET_STEPS.has(step) ? ["stdout", "stderr"] : undefined,
            },
        );
        previous = steps[step];
    }
    return { hostKey, steps };
}
