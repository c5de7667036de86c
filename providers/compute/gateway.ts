/**
 * A user's web gateway: `https://<name>.<gateway domain>` → one backend on the
 * user's VM, e.g. `http://[<mycelium ip>]:9988`, deployed through Hero Compute.
 *
 * Gateway names are reserved grid-wide, and a name is no proof of ownership.
 * A gateway is this user's only while it points at this user's VM: the same
 * `vm_id` when both sides know one, else the same backend. `create` adopts its
 * own leftover, waits a bounded time for a name held by a gateway that is not
 * ours (another user of this update may be moving off it), and then refuses
 * clearly. A new name, backend or VM is an update in place: the new gateway is
 * made first, then the old one deleted if it is still ours. A delete, or the
 * old half of an update, of a gateway that now points elsewhere deletes
 * nothing and says so. The resource id stays the one `create` gave; the
 * `name` output is the live name. Every call goes through the binding
 * (binding.json, read by bind.ts): one backend or a list, a gateway node param, the live names.
 */
import * as pulumi from "@pulumi/pulumi";
import { SHIMS, replaceDeletesFirst } from "../shims";
import { type Binding, type Compute, computeFrom, loadBinding } from "./bind";
import * as rpc from "./client";
import { belongs, ensureGateway, type GatewayOptions, getGateway, releaseIfOurs } from "./gateway-deploy";
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

type Provider = pulumi.dynamic.ResourceProvider & Partial<rpc.ComputeSettings> & { binding?: Binding; options(): GatewayOptions };

export { belongs };

export const gatewayProvider: Provider = {
    async configure(req: pulumi.dynamic.ConfigureRequest) {
        const settings = rpc.settingsFrom(req.config);
        Object.assign(this, settings, { binding: loadBinding(settings.bindingFile) });
    },

    async check(_olds: unknown, news: Record<string, unknown>) {
        return checkGateway(news, this.allowLoopbackBackend === true);
    },

    async diff(_id: string, olds: GatewayOutputs, news: GatewayInputs) {
        return diffGateway(olds, news);
    },

    async create(inputs: GatewayInputs) {
        const c = computeFrom(this);
        const endpoint = rpc.canonicalEndpoint(c.conn.url);
        const gw = await ensureGateway(c, inputs, this.options());
        rpc.progress(`${inputs.username}: gateway https://${gw.fqdn} → ${gw.backend}`);
        return { id: `${endpoint}#${gw.name}`, outs: outsOf(inputs, gw, endpoint) };
    },

    async read(id: string, props: GatewayOutputs) {
        const c = computeFrom(this);
        guardEndpoint(c.conn, props, "refresh");
        const gw = await getGateway(c, props.name, props.username);
        if (!gw || !belongs(gw, props)) {
            const why = gw ? `now points at ${gw.backend}${gw.vm_id ? ` (VM ${gw.vm_id})` : ""}, not at this user's VM` : "is gone";
            rpc.progress(`${props.username}: gateway ${props.name} ${why} on ${props.computeEndpoint}`);
            return { id: "", props: {} };
        }
        return { id, props: outsOf(props, gw, props.computeEndpoint) };
    },

    /** A new name, backend or VM: the new gateway first, then the old one, only while it is still ours. */
    async update(_id: string, olds: GatewayOutputs, news: GatewayInputs) {
        const c = computeFrom(this);
        guardEndpoint(c.conn, olds, "update");
        const moved = (["name", "backend", "vmId"] as const).some((k) => (olds[k] ?? "") !== (news[k] ?? ""));
        if (!moved) return { outs: { ...olds, ...news } };
        const o = this.options();
        if (news.name === olds.name) {
            // One name: the old gateway must go before the name can point elsewhere.
            await releaseIfOurs(c, olds, o, `${news.username}: redeploying gateway ${olds.name} for ${news.backend}`);
        }
        const gw = await ensureGateway(c, news, o);
        if (news.name !== olds.name) {
            await releaseIfOurs(c, olds, o, `${news.username}: gateway ${olds.name} replaced by ${news.name}; deleting the old one`);
        }
        rpc.progress(`${news.username}: gateway https://${gw.fqdn} → ${gw.backend}`);
        return { outs: outsOf(news, gw, olds.computeEndpoint) };
    },

    async delete(_id: string, props: GatewayOutputs) {
        const c = computeFrom(this);
        guardEndpoint(c.conn, props, "delete");
        await releaseIfOurs(c, props, this.options());
    },

    options(): GatewayOptions {
        return {
            slot: (fn) => rpc.withSlot(this.concurrency ?? 3, fn),
            releaseWaitMs: this.releaseWaitMs ?? 120_000,
            readyTimeoutMs: this.readyTimeoutMs ?? 15 * 60_000,
            pollMs: this.pollMs ?? 10_000,
            progressMs: this.progressMs ?? 30_000,
            gatewayNode: this.gatewayNode,
        };
    },
};

/** The gateway resource: type `pulumi-nodejs:dynamic/hero:Gateway`. */
export class HeroGateway extends pulumi.dynamic.Resource {
    declare readonly fqdn: pulumi.Output<string>;
    declare readonly url: pulumi.Output<string>;
    declare readonly computeEndpoint: pulumi.Output<string>;

    constructor(name: string, args: HeroGatewayArgs, opts?: pulumi.CustomResourceOptions) {
        super(SHIMS.gateway, name, { ...args, computeEndpoint: undefined, fqdn: undefined, url: undefined }, replaceDeletesFirst(opts), "hero", "Gateway");
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

/**
 * No change replaces: a new name, backend or VM is an update in place (new
 * gateway first, then the old one if still ours), so that two users can swap
 * names in one update without either deleting the other's gateway.
 */
export function diffGateway(olds: GatewayOutputs, news: GatewayInputs): pulumi.dynamic.DiffResult {
    const changed = (["name", "backend", "vmId", "username"] as const).filter((k) => (olds[k] ?? "") !== (news[k] ?? ""));
    return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false };
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
