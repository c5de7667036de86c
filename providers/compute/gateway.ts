/**
 * A user's web gateway: `https://<name>.<gateway domain>` → one backend on the
 * user's VM, e.g. `http://[<mycelium ip>]:9988`, deployed through Hero Compute.
 *
 * Gateway names are reserved grid-wide. `create` looks its name up first and
 * adopts its own leftover (redeploying it when the backend changed); a name held
 * by someone else is a clear error asking the admin to set `gatewayName`.
 */
import * as pulumi from "@pulumi/pulumi";
import { SHIMS } from "../shims";
import * as rpc from "./client";
import { gridNameProblem } from "../../users/limits";

export interface HeroGatewayArgs {
    /** Grid-wide gateway name, `^[a-z0-9]{3,36}$`: the users file's `gatewayName`, or the grid name. @example "devalice" */
    name: pulumi.Input<string>;
    /** The user it is for; used in messages. @example "alice" */
    username: pulumi.Input<string>;
    /** Where traffic goes; loopback is refused. @example "http://[5a3:1b2::7]:9988" */
    backend: pulumi.Input<string>;
    /** The VM the backend lives on, for Hero Compute's records. */
    vmId?: pulumi.Input<string>;
}

export interface GatewayInputs {
    name: string;
    username: string;
    backend: string;
    vmId?: string;
}

export interface GatewayOutputs extends GatewayInputs {
    computeEndpoint: string;
    fqdn: string;
    url: string;
}

type Provider = pulumi.dynamic.ResourceProvider & Partial<rpc.ComputeSettings>;

export const gatewayProvider: Provider = {
    async configure(req: pulumi.dynamic.ConfigureRequest) {
        Object.assign(this, rpc.settingsFrom(req.config));
    },

    async check(_olds: unknown, news: Record<string, unknown>) {
        return checkGateway(news, this.allowLoopbackBackend === true);
    },

    async diff(_id: string, olds: GatewayOutputs, news: GatewayInputs) {
        return diffGateway(olds, news);
    },

    async create(inputs: GatewayInputs) {
        const conn = rpc.connFrom(this);
        const endpoint = rpc.canonicalEndpoint(conn.url);
        const gw = await rpc.withSlot(this.concurrency ?? 3, () => ensureGateway(conn, inputs));
        rpc.progress(`${inputs.username}: gateway https://${gw.fqdn} → ${gw.backend}`);
        return { id: `${endpoint}#${gw.name}`, outs: outsOf(inputs, gw, endpoint) };
    },

    async read(id: string, props: GatewayOutputs) {
        const conn = rpc.connFrom(this);
        guardEndpoint(conn, props, "refresh");
        const gw = await getGateway(conn, props.name, props.username);
        if (!gw) {
            rpc.progress(`${props.username}: gateway ${props.name} is gone from ${props.computeEndpoint}`);
            return { id: "", props: {} };
        }
        return { id, props: outsOf(props, gw, props.computeEndpoint) };
    },

    /** Only `username` changes in place (it is used in messages); every other change replaces. */
    async update(_id: string, olds: GatewayOutputs, news: GatewayInputs) {
        return { outs: { ...olds, ...news } };
    },

    async delete(_id: string, props: GatewayOutputs) {
        const conn = rpc.connFrom(this);
        guardEndpoint(conn, props, "delete");
        await deleteGateway(conn, props.name, props.username);
    },
};

/** The gateway resource: type `pulumi-nodejs:dynamic/hero:Gateway`. */
export class HeroGateway extends pulumi.dynamic.Resource {
    declare readonly fqdn: pulumi.Output<string>;
    declare readonly url: pulumi.Output<string>;
    declare readonly computeEndpoint: pulumi.Output<string>;

    constructor(name: string, args: HeroGatewayArgs, opts?: pulumi.CustomResourceOptions) {
        super(SHIMS.gateway, name, { ...args, computeEndpoint: undefined, fqdn: undefined, url: undefined }, opts, "hero", "Gateway");
    }
}

/** Validates inputs: no network. Loopback backends are refused (the grid refuses them too). */
export function checkGateway(news: Record<string, unknown>, allowLoopback = false): { inputs: Record<string, unknown>; failures: pulumi.dynamic.CheckFailure[] } {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    // The users file checks gatewayName with the same function (users/limits.ts).
    const name = gridNameProblem(news.name);
    if (name) {
        failures.push({ property: "name", reason: name });
    }
    if (typeof news.username !== "string" || news.username === "") {
        failures.push({ property: "username", reason: "must be a non-empty string" });
    }
    const backend = news.backend;
    if (backend === "04da6b54-80e4-46f7-96ec-b56ff0331ba9") {
        // unknown during a preview: the VM's mycelium IP is not known yet
    } else if (typeof backend !== "string" || !/^https?:\/\/\S+$/.test(backend)) {
        failures.push({ property: "backend", reason: `must be an http(s) URL, not ${JSON.stringify(backend)}` });
    } else if (!allowLoopback && isLoopback(new URL(backend).hostname)) {
        failures.push({ property: "backend", reason: `must not be a loopback address: the gateway cannot reach ${backend}` });
    }
    return { inputs: news, failures };
}

export function isLoopback(hostname: string): boolean {
    const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
    return h === "localhost" || h === "::1" || h === "::" || h === "0.0.0.0" || /^127\./.test(h) || /^::ffff:(127\.|7f)/.test(h);
}

/** Any change redeploys the gateway; with the same name the old one must go first. */
export function diffGateway(olds: GatewayOutputs, news: GatewayInputs): pulumi.dynamic.DiffResult {
    const replaces = (["name", "backend", "vmId"] as const).filter((k) => (olds[k] ?? "") !== (news[k] ?? ""));
    const changes = replaces.length > 0 || olds.username !== news.username;
    return { changes, replaces, deleteBeforeReplace: replaces.length > 0 && olds.name === news.name };
}

function outsOf(inputs: GatewayInputs, gw: rpc.Gateway, endpoint: string): GatewayOutputs {
    // The live backend, so that refresh sees a gateway re-pointed outside the tool.
    return { ...inputs, backend: gw.backend ?? inputs.backend, computeEndpoint: endpoint, fqdn: gw.fqdn, url: `https://${gw.fqdn}` };
}

function guardEndpoint(conn: rpc.Conn, props: GatewayOutputs, what: string): void {
    const now = rpc.canonicalEndpoint(conn.url);
    if (props.computeEndpoint !== now) {
        throw new Error(
            `${props.username}: cannot ${what} gateway ${props.name}: it was deployed through ${props.computeEndpoint}, ` +
                `but computeUrl is now ${now}. Set computeUrl back to run this step.`,
        );
    }
}

async function getGateway(conn: rpc.Conn, name: string, user: string): Promise<rpc.Gateway | undefined> {
    try {
        return await rpc.call<rpc.Gateway>(conn, "get_webgateway", { name }, { user });
    } catch (err) {
        if (rpc.isRpcCode(err, rpc.ERRORS.NotFound)) return undefined;
        throw err;
    }
}

async function deleteGateway(conn: rpc.Conn, name: string, user: string): Promise<void> {
    try {
        await rpc.call(conn, "delete_webgateway", { name }, { user });
    } catch (err) {
        if (!rpc.isRpcCode(err, rpc.ERRORS.NotFound)) throw err;
    }
}

/** Look up, adopt or replace our leftover, then deploy; never a blind retry of the deploy. */
async function ensureGateway(conn: rpc.Conn, inputs: GatewayInputs): Promise<rpc.Gateway> {
    const user = inputs.username;
    for (let attempt = 1; ; attempt++) {
        const own = await getGateway(conn, inputs.name, user);
        if (own && own.backend === inputs.backend) {
            rpc.progress(`${user}: adopting gateway ${own.name}, left by an earlier attempt`);
            return own;
        }
        if (own) {
            rpc.progress(`${user}: gateway ${own.name} left by an earlier attempt points at ${own.backend}; redeploying it`);
            await deleteGateway(conn, own.name, user);
        }
        const params: Record<string, unknown> = { name: inputs.name, backend: inputs.backend };
        if (inputs.vmId) params.vm_id = inputs.vmId;
        try {
            return await rpc.call<rpc.Gateway>(conn, "deploy_webgateway", params, { user, retry: false });
        } catch (err) {
            if (rpc.isRpcCode(err, rpc.ERRORS.NameTaken)) {
                throw new Error(
                    `${user}: the gateway name "${inputs.name}" is already taken on the grid by someone else. ` +
                        `Set gatewayName for ${user} in the users file to another name matching ^[a-z0-9]{3,36}$ and run pulumi up again. ` +
                        `(Hero Compute said: ${(err as rpc.RpcError).serverMessage})`,
                );
            }
            const unsure = (err as rpc.RpcError).transient || rpc.isRpcCode(err, rpc.ERRORS.NameExists);
            if (!unsure || attempt >= 3) throw err;
            // The outcome is unknown: the next round looks the name up before deploying again.
        }
    }
}
