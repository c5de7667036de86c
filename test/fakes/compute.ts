/**
 * A fake Hero Compute (ComputeService) for tests and rehearsals: one real HTTP
 * server on 127.0.0.1 and one real Unix-socket server, sharing one state.
 *
 * It speaks one of four dialects (compute-dialects.ts), chosen by the test,
 * each with its own OpenRPC document: it answers only the methods listed there,
 * refuses missing, unknown or mistyped params (and strings not matching a
 * `pattern`) with -32602, answers `rpc.discover` and `GET /openrpc.json` with
 * that document (or a rewritten one, to test the preflight), and uses its error
 * codes, state words and auth header. Its state (`vms`, `gateways`, `calls`,
 * faults by method) is the same in every dialect: our names (`deploy_vm`,
 * `vm_id`, MB, one `backend`), so tests read it alike whatever the wire says.
 *
 * Provisioning is evaluated lazily on get_vm/list_vms (no timers): a VM gets its
 * mycelium IP once `provisionMs` has passed, unless its node is stuck.
 * "Deploys in flight" counts a VM from deploy_vm until it is first seen ready (or
 * deleted) plus every deploy_webgateway call still being answered.
 */
import * as fs from "fs";
import * as http from "http";
import type { Socket } from "net";
import * as os from "os";
import * as path from "path";

import { authorized, DialectError, type Dialect, dialectDocument, errorCodes, gatewayOut, inbound, opNameOf, vmOut, wireCandidates } from "./compute-dialects";

export { CONTRACT_PATH, type Dialect, dialectDocument, DIALECTS, loadContract, NEXT_CONTRACT_PATH, TODAY_BINDING_PATH, TODAY_CONTRACT_PATH } from "./compute-dialects";

export interface FakeComputeOptions {
    /** The contract it speaks. @default "tracker" */
    dialect?: Dialect;
    /** Answer `rpc.discover` with -32601, as a service that serves only `GET /openrpc.json` would. @default true */
    discoverMethod?: boolean;
    /** Time from deploy_vm until the VM has its mycelium IP. @default 0 (ready at the first get_vm) */
    provisionMs?: number;
    /** How long deploy_webgateway takes to answer. @default 0 */
    gatewayDeployMs?: number;
    /** When set, every request needs the token as the dialect wants it (`Authorization: Bearer <token>`, or `X-Api-Key: <token>` in "next"); others get HTTP 401 with a JSON body. */
    token?: string;
    /** The mycelium IP a VM gets; a rehearsal can return loopback addresses here. @default a fake 5xx:: address */
    myceliumIpFor?: (name: string, id: string) => string;
    /** Node a VM lands on when deploy_vm names none. @default 1 */
    defaultNode?: number;
    /** Gateway domain: FQDN = `<name>.<domain>`. @default "gent02.grid.tf" */
    gatewayDomain?: string;
    /** Accept loopback gateway backends (a rehearsal's VMs live on loopback). @default false */
    allowLoopbackBackend?: boolean;
    /** Rewrites the document rpc.discover answers, e.g. to drop a method. */
    discover?: (doc: any) => any;
    /** Leave `ssh_keys` out of every Vm result, as a service that does not report keys would. @default false */
    hideVmKeys?: boolean;
    /** How long each method (by our bare name) takes to answer, e.g. `{ deploy_vm: 50 }`, so calls in flight overlap. @default none */
    callMs?: Partial<Record<string, number>>;
}

/** The methods that change something: what `computeConcurrency` caps. */
export const CHANGING_METHODS = new Set(["deploy_vm", "delete_vm", "inject_ssh_keys", "deploy_webgateway", "delete_webgateway"]);

export interface FakeVm {
    id: string;
    name: string;
    state: "deploying" | "running" | "stopped" | "failed";
    /** Why a deployment failed (the "next" dialect reports it as `reason`). */
    error: string | null;
    node_id: number;
    mycelium_ip: string | null;
    cpu: number;
    memory: number;
    rootfs_size: number;
    /** The data disk in MB, for dialects that take one; 0 when none. */
    disk_size: number;
    flist: string;
    ssh_keys: string[];
    readyAt: number;
    inFlight: boolean;
}

export interface FakeGateway {
    name: string;
    fqdn: string;
    backend: string;
    vm_id: string | null;
    /** The gateway node, for dialects that take one. */
    node_id: number | null;
    /** Our gateway states; dialects without gateway states do not report it. */
    state: "deploying" | "ready" | "failed";
    error: string | null;
}

/** An injected fault for the next `times` requests (of `method`, by our bare name, or of any method the dialect has). */
export interface Fault {
    /** `503`: answer HTTP 503 unprocessed. `reset`: destroy the socket unprocessed. `drop`: process, then destroy the socket (answer lost). `hang`: never answer. */
    kind: "503" | "reset" | "drop" | "hang";
    method?: string;
    times: number;
}

const RpcFail = DialectError;

export class FakeCompute {
    readonly vms = new Map<string, FakeVm>();
    readonly gateways = new Map<string, FakeGateway>();
    /** Gateway names reserved on the grid by someone else: deploy_webgateway answers NameTaken. */
    readonly foreignGateways = new Set<string>();
    /** Nodes that accept a deployment and never provision it. */
    readonly stuckNodes = new Set<number>();
    /** VM name → message: deploy_vm answers DeployFailed. */
    readonly deployFailures = new Map<string, string>();
    /** Node → message: a VM deployed there fails while provisioning (state failed, the message as its error). */
    readonly failingNodes = new Map<number, string>();
    /** Gateway name → message: the gateway deploys, then reports failed with that message. */
    readonly failingGateways = new Map<string, string>();
    /** Keys registered for a VM name not deployed yet (inject_ssh_keys before deploy_vm); a deploy takes them. */
    readonly pendingKeys = new Map<string, string[]>();
    /** Requests processed, per method by our bare name (faulted requests that were not processed are not counted). */
    readonly calls: Record<string, number> = {};
    /**
     * Every request received, in order, with its auth header (Authorization, or X-Api-Key in "next"): `method` is our
     * bare name when the dialect has the method (else as sent), `wire` as sent, `params` as sent.
     */
    readonly requests: { method: string; wire: string; params: any; authorization?: string; via: "http" | "unix" }[] = [];
    readonly faults: Fault[] = [];
    deploysInFlight = 0;
    maxDeploysInFlight = 0;
    /** Changing calls (CHANGING_METHODS) being answered right now, and the most at once. */
    changingCallsInFlight = 0;
    maxChangingCallsInFlight = 0;
    httpUrl = "";
    unixUrl = "";
    socketPath = "";
    private seq = 200;
    private readonly servers: http.Server[] = [];
    private readonly sockets = new Set<Socket>();
    private dir = "";

    dialect: Dialect;
    /** The dialect's document, as the fake checks calls against it (rpc.discover answers a fresh copy). */
    private document: any;

    private constructor(readonly opts: FakeComputeOptions) {
        this.dialect = opts.dialect ?? "tracker";
        this.document = dialectDocument(this.dialect);
    }

    /** Speaks another dialect from now on, keeping its VMs and gateways: the service changed under a deployed stack. */
    speak(dialect: Dialect): void {
        this.dialect = dialect;
        this.document = dialectDocument(dialect);
    }

    /** Starts both servers. `httpUrl` is `http://127.0.0.1:<port>/rpc`; `unixUrl` is `unix://<tmp>/rpc.sock`. */
    static async start(opts: FakeComputeOptions = {}): Promise<FakeCompute> {
        const fake = new FakeCompute(opts);
        const httpServer = fake.server("http");
        await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
        fake.httpUrl = `http://127.0.0.1:${(httpServer.address() as { port: number }).port}/rpc`;
        fake.dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-compute-"));
        fake.socketPath = path.join(fake.dir, "rpc.sock");
        const unixServer = fake.server("unix");
        await new Promise<void>((resolve) => unixServer.listen(fake.socketPath, resolve));
        fake.unixUrl = `unix://${fake.socketPath}`;
        return fake;
    }

    async stop(): Promise<void> {
        for (const s of this.sockets) s.destroy();
        await Promise.all(this.servers.map((s) => new Promise((resolve) => s.close(resolve))));
        fs.rmSync(this.dir, { recursive: true, force: true });
    }

    /** Injects a fault for the next `times` matching requests. */
    fault(kind: Fault["kind"], opts: { method?: string; times?: number } = {}): void {
        this.faults.push({ kind, method: opts.method, times: opts.times ?? 1 });
    }

    /** The VM of that name, if any. */
    vm(name: string): FakeVm | undefined {
        return [...this.vms.values()].find((v) => v.name === name);
    }

    /** Deletes a VM behind the tool's back. */
    vanish(name: string): void {
        const vm = this.vm(name);
        if (vm) this.forget(vm);
    }

    /** Stops a VM behind the tool's back. */
    stopVm(name: string): void {
        const vm = this.vm(name);
        if (vm) vm.state = "stopped";
    }

    /** Runs a method directly against the state, as if another client had called it: its name bare or as the dialect writes it, its params in the dialect's. */
    invoke(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
        return this.dispatch(this.wireName(method) ?? method, params);
    }

    /** The method as this dialect writes it (`deploy_vm` → `ComputeService.deploy_vm`), or undefined when it has none. */
    wireName(method: string): string | undefined {
        const names = this.documentMethods();
        return wireCandidates(this.dialect, method).find((n) => names.has(n));
    }

    /** Our bare name of a method this dialect has, or undefined. */
    private opName(wire: string): string | undefined {
        if (!this.documentMethods().has(wire)) return undefined;
        return opNameOf(this.dialect, wire);
    }

    private documentMethods(): Set<string> {
        return new Set(this.document.methods.map((m: any) => m.name));
    }

    private server(via: "http" | "unix"): http.Server {
        const server = http.createServer((req, res) => void this.handle(req, res, via));
        server.on("connection", (s) => {
            this.sockets.add(s);
            s.on("close", () => this.sockets.delete(s));
        });
        this.servers.push(server);
        return server;
    }

    private async handle(req: http.IncomingMessage, res: http.ServerResponse, via: "http" | "unix"): Promise<void> {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const url = req.url ?? "/";
        if (req.method === "GET" && url === "/health") return void res.end("ok");
        if (req.method === "GET" && url === "/openrpc.json") return this.json(res, 200, this.discoverDoc());
        if (req.method !== "POST" || !/\/rpc\/?$/.test(url)) return this.json(res, 404, { error: "not found" });
        if (this.opts.token !== undefined && !authorized(this.dialect, this.opts.token, req.headers)) {
            const header = this.dialect === "next" ? "X-Api-Key" : "Authorization: Bearer";
            return this.json(res, 401, { error: `missing or invalid token: this service wants ${header}` });
        }
        let msg: any;
        try {
            msg = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
            return this.json(res, 200, { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } });
        }
        const wire = String(msg?.method);
        const op = this.opName(wire);
        const method = op ?? wire;
        const authorization = (this.dialect === "next" ? req.headers["x-api-key"] : req.headers.authorization) as string | undefined;
        this.requests.push({ method, wire, params: msg?.params, authorization, via });
        // A method the dialect does not have is refused at once: no fault meant for a real method is spent on it.
        const fault = op === undefined ? undefined : this.faults.find((f) => f.times > 0 && (f.method === undefined || f.method === method));
        if (fault) fault.times--;
        if (fault?.kind === "503") {
            res.writeHead(503, { "content-type": "text/plain" });
            return void res.end("Service Unavailable");
        }
        if (fault?.kind === "reset") return void req.socket.destroy();
        if (fault?.kind === "hang") return;
        let answer: unknown;
        const changing = CHANGING_METHODS.has(method);
        if (changing) this.maxChangingCallsInFlight = Math.max(this.maxChangingCallsInFlight, ++this.changingCallsInFlight);
        try {
            const delay = this.opts.callMs?.[method];
            if (delay) await new Promise((r) => setTimeout(r, delay));
            answer = { jsonrpc: "2.0", id: msg.id ?? null, result: await this.dispatch(wire, msg.params ?? {}) };
        } catch (err) {
            const code = err instanceof RpcFail ? err.code : -32603;
            answer = { jsonrpc: "2.0", id: msg.id ?? null, error: { code, message: (err as Error).message } };
        } finally {
            if (changing) this.changingCallsInFlight--;
        }
        if (fault?.kind === "drop") return void req.socket.destroy();
        this.json(res, 200, answer);
    }

    private json(res: http.ServerResponse, status: number, body: unknown): void {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
    }

    private discoverDoc(): any {
        const doc = dialectDocument(this.dialect);
        return this.opts.discover ? this.opts.discover(doc) : doc;
    }

    /** Checks params against the dialect's document: -32601 for unknown methods, -32602 for bad params. */
    private validate(method: string, params: unknown): Record<string, any> {
        if (method === "rpc.discover" && this.opts.discoverMethod === false) throw new RpcFail(-32601, "Method not found: rpc.discover");
        const m = this.document.methods.find((x: any) => x.name === method);
        if (!m) throw new RpcFail(-32601, `Method not found: ${method}`);
        if (typeof params !== "object" || params === null || Array.isArray(params)) {
            throw new RpcFail(-32602, `Invalid params: ${method} takes params by name`);
        }
        const p = params as Record<string, any>;
        for (const key of Object.keys(p)) {
            if (!m.params.some((d: any) => d.name === key)) throw new RpcFail(-32602, `Invalid params: ${method} has no param ${key}`);
        }
        for (const d of m.params) {
            const v = p[d.name];
            if (v === undefined) {
                if (d.required) throw new RpcFail(-32602, `Invalid params: ${method} needs ${d.name}`);
                continue;
            }
            const t = d.schema?.type;
            const ok =
                t === "string" ? typeof v === "string" :
                t === "integer" ? Number.isInteger(v) :
                t === "number" ? typeof v === "number" :
                t === "boolean" ? typeof v === "boolean" :
                t === "array" ? Array.isArray(v) && v.every((x: unknown) => typeof x === "string") : true;
            if (!ok) throw new RpcFail(-32602, `Invalid params: ${method}.${d.name} must be ${t}`);
            if (t === "string" && d.schema.pattern && !new RegExp(d.schema.pattern).test(v)) {
                throw new RpcFail(-32602, `Invalid params: ${method}.${d.name} must match ${d.schema.pattern}, not ${JSON.stringify(v)}`);
            }
        }
        return p;
    }

    /** A wire call: checked against the dialect's document, turned into our names, run, and answered in the dialect's. */
    private async dispatch(wire: string, raw: unknown): Promise<unknown> {
        const method = this.opName(wire) ?? wire;
        const p = inbound(this.dialect, method, this.validate(wire, raw), this.pendingKeys);
        const codes = errorCodes(this.dialect);
        this.calls[method] = (this.calls[method] ?? 0) + 1;
        switch (method) {
            case "rpc.discover":
                return this.discoverDoc();
            case "deploy_vm":
                return this.deployVm(p);
            case "get_vm":
                return this.view(this.mustVm(p.vm_id));
            case "list_vms":
                return [...this.vms.values()].map((v) => this.view(v));
            case "delete_vm":
                this.forget(this.mustVm(p.vm_id));
                return true;
            case "inject_ssh_keys": {
                if (p.vm_id === undefined) {
                    // Keys first (the tracker's dialect): a VM of that name gets them now; else they wait for its deploy, which takes them.
                    const existing = this.vm(p.name);
                    if (existing) existing.ssh_keys = [...new Set([...existing.ssh_keys, ...p.ssh_keys])];
                    else this.pendingKeys.set(p.name, [...new Set([...(this.pendingKeys.get(p.name) ?? []), ...p.ssh_keys])]);
                    return true;
                }
                const vm = this.mustVm(p.vm_id);
                vm.ssh_keys = [...new Set([...vm.ssh_keys, ...p.ssh_keys])];
                return true;
            }
            case "deploy_webgateway":
                return this.wireGateway(await this.deployGateway(p));
            case "get_webgateway": {
                const gw = this.gateways.get(p.name);
                if (!gw) throw new RpcFail(codes.notFound, `gateway ${p.name} not found`);
                return this.wireGateway(gw);
            }
            case "list_webgateways":
                return [...this.gateways.values()].map((g) => this.wireGateway(g));
            case "delete_webgateway":
                if (!this.gateways.delete(p.name)) throw new RpcFail(codes.notFound, `gateway ${p.name} not found`);
                return true;
            default:
                throw new RpcFail(-32601, `Method not found: ${method}`);
        }
    }

    private deployVm(p: Record<string, any>): unknown {
        const codes = errorCodes(this.dialect);
        if (this.vm(p.name)) throw new RpcFail(codes.nameExists, `a workload named ${p.name} already exists`);
        const failure = this.deployFailures.get(p.name);
        if (failure !== undefined) throw new RpcFail(codes.deployFailed, failure);
        const id = String(this.seq++); // digits, so a dialect with integer ids can send them as numbers
        const vm: FakeVm = {
            id,
            name: p.name,
            state: "deploying",
            error: null,
            node_id: p.node_id ?? this.opts.defaultNode ?? 1,
            mycelium_ip: null,
            cpu: p.cpu,
            memory: p.memory,
            rootfs_size: p.rootfs_size,
            disk_size: p.disk_size ?? 0,
            flist: p.flist,
            ssh_keys: [...p.ssh_keys],
            readyAt: Date.now() + (this.opts.provisionMs ?? 0),
            inFlight: true,
        };
        this.vms.set(id, vm);
        this.pendingKeys.delete(p.name); // the deploy took them: a VM deployed again under this name starts from what is registered then
        this.deploysInFlight++;
        this.maxDeploysInFlight = Math.max(this.maxDeploysInFlight, this.deploysInFlight);
        return this.view(vm, false);
    }

    private async deployGateway(p: Record<string, any>): Promise<FakeGateway> {
        const codes = errorCodes(this.dialect);
        if (this.foreignGateways.has(p.name)) throw new RpcFail(codes.nameTaken, `name ${p.name} is reserved by twin 4711`);
        if (this.gateways.has(p.name)) throw new RpcFail(codes.nameExists, `gateway ${p.name} already exists`);
        const host = new URL(p.backend).hostname.replace(/^\[|\]$/g, "");
        if (!this.opts.allowLoopbackBackend && (host === "::1" || host === "localhost" || host.startsWith("127."))) {
            throw new RpcFail(-32602, `Invalid params: loopback backend ${p.backend}`);
        }
        this.deploysInFlight++;
        this.maxDeploysInFlight = Math.max(this.maxDeploysInFlight, this.deploysInFlight);
        try {
            if (this.opts.gatewayDeployMs) await new Promise((r) => setTimeout(r, this.opts.gatewayDeployMs));
        } finally {
            this.deploysInFlight--;
        }
        const failure = this.failingGateways.get(p.name);
        const gw: FakeGateway = {
            name: p.name, fqdn: `${p.name}.${this.opts.gatewayDomain ?? "gent02.grid.tf"}`, backend: p.backend, vm_id: p.vm_id ?? null, node_id: p.node_id ?? null,
            state: failure === undefined ? "ready" : "failed", error: failure ?? null,
        };
        this.gateways.set(p.name, gw);
        return gw;
    }

    /** A Gateway result in the dialect's names. */
    private wireGateway(gw: FakeGateway): unknown {
        return gatewayOut(this.dialect, gw);
    }

    private mustVm(id: string): FakeVm {
        const vm = this.vms.get(id);
        if (!vm) throw new RpcFail(errorCodes(this.dialect).notFound, `vm ${id} not found`);
        return vm;
    }

    private forget(vm: FakeVm): void {
        this.vms.delete(vm.id);
        this.settle(vm);
    }

    private settle(vm: FakeVm): void {
        if (vm.inFlight) {
            vm.inFlight = false;
            this.deploysInFlight--;
        }
    }

    /** The Vm result: provisioning advances here, when someone looks. */
    private view(vm: FakeVm, advance = true): unknown {
        const failure = this.failingNodes.get(vm.node_id);
        if (advance && vm.state === "deploying" && failure !== undefined && Date.now() >= vm.readyAt) {
            vm.state = "failed";
            vm.error = failure;
            this.settle(vm);
        } else if (advance && vm.state === "deploying" && !this.stuckNodes.has(vm.node_id) && Date.now() >= vm.readyAt) {
            vm.state = "running";
            const n = parseInt(vm.id, 10);
            vm.mycelium_ip = this.opts.myceliumIpFor?.(vm.name, vm.id) ?? `5a1:${(n >> 16).toString(16)}:${(n & 0xffff).toString(16)}::1`;
            this.settle(vm);
        }
        return vmOut(this.dialect, { ...vm, ssh_keys: this.opts.hideVmKeys ? undefined : [...vm.ssh_keys] });
    }
}

/**
 * A `configure()` request for the Hero Compute providers, as the dynamic-provider
 * host builds it from stack config: keys are given un-namespaced, e.g.
 * `{ computeUrl: fake.httpUrl, computeConcurrency: "2" }`.
 */
export function configRequest(values: Record<string, string>): any {
    const get = (key: string) => values[key.replace(/^hero-os-grid-deployer:/, "")];
    return { config: { get, require: (k: string) => get(k) ?? (() => { throw new Error(`missing ${k}`); })() } };
}
