/**
 * A test-only engine: the smallest stand-in for `pulumi up`/`preview`/`destroy`
 * that lets the real program run end to end on this machine (no Pulumi CLI).
 *
 * It is a mock monitor (`pulumi.runtime.setMocks`) whose RegisterResource does
 * the step the engine would do, before answering, so that dependents register
 * only after their dependencies exist, as under the real engine:
 * - dynamic resources (`pulumi-nodejs:dynamic/*`) go through Pulumi's own
 *   dynamic-provider host over gRPC: Check, then Create; on later runs Check,
 *   Diff, then Update, or replace (delete-before-replace when the diff or the
 *   resource asks, else create-before-delete with the old copy deleted at the
 *   end). Delete runs the provider copy STORED in state, as the engine does;
 * - tls keys, random passwords, remote commands and copies: see `builtins.ts`;
 * - file assets get their SHA-256 `hash` before any diff, as the engine adds
 *   it: state keeps the asset's path and hash, and a new hash is a change;
 * - state (id, inputs, outputs, dependencies, parent, deletedWith) is a JSON
 *   file, serialized providers stored once by hash. Each step appends its record
 *   (or its removal) to a journal beside it, `<state file>.journal`, and the run
 *   ends by writing the whole file and removing the journal; a run that died
 *   leaves the journal, which the next load replays (so the state is the one
 *   after the last step that finished, as Pulumi's checkpoint after every step
 *   gives, without rewriting the whole file each time). A record stays in the
 *   state until its step replaces or removes it. `checkpoint` counts what
 *   Pulumi's file backend would write instead: after every step the whole state
 *   with a provider copy in every record (compact JSON, no secrets encryption:
 *   a lower bound);
 * - resources the program no longer registers are deleted after the program
 *   ends, dependents before their dependencies (and children before parents),
 *   in parallel where the graph allows; a delete is skipped when the resource's
 *   `deletedWith` target is deleted in the same run;
 * - after the first failed step no new step starts and nothing is deleted;
 *   steps in flight finish and are saved, then the update ends and the
 *   program's still-waiting registrations are abandoned (what the engine does
 *   without --continue-on-error);
 * - preview runs Check and Diff only: no Create/Update/Delete, no SSH, no keys;
 *   new and changed resources answer with their inputs, the rest unknown.
 *
 * What it does NOT do, compared with Pulumi's engine: no refresh and no Read;
 * no aliases, imports, protect, retainOnDelete, custom timeouts, hooks or
 * transforms; no plugin protocol for non-dynamic providers (three are imitated
 * in-process); no diff of component inputs (components are recorded, never
 * "updated"); ignoreChanges and replaceOnChanges only on top-level keys; no
 * detailed diff for builtins (top-level key comparison); no --parallel cap; a
 * failed create leaves nothing in state (no partial "init error" state); outputs
 * become secret only by additionalSecretOutputs or a secret input of the same
 * top-level name; no secrets encryption in the state file; no duplicate-URN check.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import { BUILTINS, Props } from "../engine/builtins";
import { DynamicHost } from "../support/dynamic-host";

/* eslint-disable @typescript-eslint/no-require-imports */
const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks");
const rpc = require("@pulumi/pulumi/runtime/rpc");
const resproto = require("@pulumi/pulumi/proto/resource_pb");
const structproto = require("google-protobuf/google/protobuf/struct_pb");
/* eslint-enable @typescript-eslint/no-require-imports */

const SIG = rpc.specialSigKey as string;
const STACK_TYPE = "pulumi:pulumi:Stack";

export interface StateResource {
    urn: string;
    type: string;
    name: string;
    custom: boolean;
    parent?: string;
    id: string;
    inputs: Props;
    outputs: Props;
    deps: string[];
    deletedWith?: string;
}

export interface State {
    resources: Record<string, StateResource>;
    /** The stack's outputs after the last update (what a StackReference to it reads). */
    outputs?: Props;
}

export type OpKind = "create" | "update" | "replace" | "delete" | "same" | "skip-delete";

export interface Op {
    op: OpKind;
    urn: string;
    type: string;
    name: string;
    preview: boolean;
    detail?: string;
}

export interface EngineOptions {
    stateFile: string;
    preview: boolean;
    /** Stack config with un-namespaced keys, handed to the dynamic provider host's Configure. */
    config: Record<string, string>;
    project: string;
    stack: string;
}

export class Engine {
    readonly ops: Op[] = [];
    readonly commands: { urn: string; line: string }[] = [];
    readonly errors: string[] = [];
    stackOutputs: Props = {};
    /** Steps persisted, and the sum of the Pulumi-like state size after each one. */
    readonly checkpoint = { steps: 0, bytes: 0 };
    private readonly sizes = new WeakMap<StateResource, number>();
    private readonly old: State;
    /** The stack outputs to persist; undefined keeps the last update's. */
    private outputs?: Props;
    private readonly next: State;
    /** The state as it stands now: the old records until a step replaces or removes them, and what steps saved. */
    private readonly view: Map<string, StateResource>;
    /** The Pulumi-like size of `view` (see `size`). */
    private viewBytes = 0;
    private readonly journal: Journal;
    private readonly seen = new Set<string>();
    private readonly removed = new Set<string>();
    private readonly pendingDeletes: StateResource[] = [];
    private readonly inflight = new Set<Promise<unknown>>();
    private host?: Promise<DynamicHost>;

    constructor(readonly opts: EngineOptions) {
        this.old = loadState(opts.stateFile);
        this.next = { resources: {} };
        this.view = new Map(Object.entries(this.old.resources));
        for (const r of this.view.values()) this.viewBytes += this.size(r);
        this.journal = new Journal(opts.stateFile);
        // A journal left by a run that died is in `old` now: fold it into the file first.
        if (!opts.preview && this.journal.exists()) this.compact();
    }

    /** The mock monitor to hand to the SDK. */
    monitor(): unknown {
        const engine = this;
        return new (class extends MockMonitor {
            constructor() {
                super({ call: unexpected, newResource: unexpected });
            }
            async registerResource(req: any, callback: (err: unknown, resp?: unknown) => void): Promise<void> {
                const p = engine.register(req);
                engine.inflight.add(p);
                try {
                    const { urn, id, outputs } = await p;
                    const resp = new resproto.RegisterResourceResponse();
                    resp.setUrn(urn);
                    resp.setId(id);
                    resp.setObject(structproto.Struct.fromJavaScript(outputs));
                    callback(null, resp);
                } catch (err) {
                    callback(err);
                } finally {
                    engine.inflight.delete(p);
                }
            }
            registerResourceOutputs(req: any, callback: (err: unknown, resp?: unknown) => void): void {
                if (req.getUrn().split("::")[2] === STACK_TYPE) {
                    engine.stackOutputs = plain(req.getOutputs()?.toJavaScript() ?? {}).value;
                }
                callback(null, {});
            }
            async readResource(req: any, callback: (err: unknown, resp?: unknown) => void): Promise<void> {
                // A StackReference to this stack reads its outputs from the last update, as the engine does.
                if (req.getType() !== "pulumi:pulumi:StackReference") {
                    callback(new Error(`rehearsal: read/get of ${req.getType()} is not implemented`));
                    return;
                }
                const inputs = rpc.deserializeProperties(req.getProperties());
                const own = `${engine.opts.project}/${engine.opts.stack}`;
                const state = { name: inputs.name, outputs: String(inputs.name).endsWith(own) ? engine.old.outputs ?? {} : {}, secretOutputNames: [] };
                const resp = new resproto.ReadResourceResponse();
                resp.setUrn(engine.urn(req.getParent(), req.getType(), req.getName()));
                resp.setProperties(structproto.Struct.fromJavaScript(await rpc.serializeProperties("", state)));
                callback(null, resp);
            }
            invoke(req: any, callback: (err: unknown) => void): void {
                callback(new Error(`rehearsal: invoke ${req.getTok()} is not implemented`));
            }
        })();
    }

    /** One RegisterResource: the step the engine would take, then the answer the SDK gets. */
    private async register(req: any): Promise<{ urn: string; id: string; outputs: Props }> {
        const type: string = req.getType();
        const name: string = req.getName();
        const parent: string = req.getParent();
        const urn = this.urn(parent, type, name);
        if (this.seen.has(urn)) {
            throw new Error(`rehearsal: duplicate resource URN ${urn}`);
        }
        this.seen.add(urn);
        const deps = new Set<string>(req.getDependenciesList());
        req.getPropertydependenciesMap().forEach((v: any) => v.getUrnsList().forEach((u: string) => deps.add(u)));
        const rec: StateResource = {
            urn, type, name, custom: req.getCustom(), parent: parent || undefined, id: "",
            inputs: {}, outputs: {}, deps: [...deps], deletedWith: req.getDeletedwith() || undefined,
        };
        if (!rec.custom) {
            this.save(rec);
            return { urn, id: "", outputs: {} };
        }
        if (this.errors.length > 0) {
            throw new Error(`rehearsal: ${urn} not started: an earlier step failed`);
        }
        const { value: raw, secretKeys } = plain(req.getObject().toJavaScript());
        hashAssets(raw);
        const old = this.old.resources[urn];
        let news: Props = raw;
        for (const k of req.getIgnorechangesList() as string[]) {
            if (old && k in old.inputs) news[k] = old.inputs[k];
        }
        try {
            const r = await this.step(rec, old, news, {
                replaceOnChanges: (req.getReplaceonchangesList() as string[]).map((k) => k.split(/[.[]/)[0]),
                deleteBeforeReplace: req.getDeletebeforereplace(),
            });
            news = r.outputs;
            const secret = new Set<string>([...req.getAdditionalsecretoutputsList(), ...secretKeys]);
            for (const k of Object.keys(news)) {
                if (secret.has(k)) news[k] = { [SIG]: rpc.specialSecretSig, value: news[k] };
            }
            return { urn, id: r.id, outputs: news };
        } catch (err) {
            if (old && !(urn in this.next.resources) && !this.removed.has(urn)) this.save(old);
            const msg = `${urn}: ${err instanceof Error ? err.message : String(err)}`;
            if (process.env.REHEARSAL_DEBUG) process.stderr.write(`rehearsal: FAILED ${msg}\n`);
            this.errors.push(msg);
            throw new Error(msg);
        }
    }

    private async step(rec: StateResource, old: StateResource | undefined, news: Props, o: { replaceOnChanges: string[]; deleteBeforeReplace: boolean }): Promise<{ id: string; outputs: Props }> {
        const dynamic = rec.type.startsWith("pulumi-nodejs:dynamic/");
        const builtin = BUILTINS[rec.type];
        if (!dynamic && !builtin) {
            throw new Error(`rehearsal: no stand-in for provider of ${rec.type}`);
        }
        const host = dynamic ? await this.hostFor(news.__provider === rpc.unknownValue ? old?.inputs.__provider : news.__provider) : undefined;
        if (host) {
            const checked = await host.check(old?.inputs ?? {}, news);
            if (checked.failures.length > 0) {
                throw new Error(`check failed: ${checked.failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
            }
            news = checked.inputs;
        }
        const record = (op: OpKind, detail?: string) => {
            this.ops.push({ op, urn: rec.urn, type: rec.type, name: rec.name, preview: this.opts.preview, detail });
            if (process.env.REHEARSAL_DEBUG) process.stderr.write(`rehearsal: ${op} ${rec.name} ${detail ?? ""}\n`);
        };
        const commit = (id: string, outputs: Props) => {
            this.save({ ...rec, id, inputs: news, outputs });
            return { id, outputs: { ...outputs } };
        };
        const log = (line: string) => this.commands.push({ urn: rec.urn, line });
        const create = async () => {
            if (host) {
                const r = await host.create(news);
                return commit(r.id, r.outs);
            }
            const r = await builtin.create(news, log);
            return commit(r.id, r.outputs);
        };
        if (!old) {
            record("create");
            return this.opts.preview ? { id: "", outputs: previewOutputs(news) } : create();
        }
        const changed = changedKeys(old.inputs, news);
        let replaces: string[];
        if (host) {
            const d = await host.diff(old.id, old.outputs, news);
            if (d.changes === "none" || (d.changes === "unknown" && changed.length === 0)) {
                record("same");
                return commit(old.id, old.outputs);
            }
            replaces = [...d.replaces, ...changed.filter((k) => o.replaceOnChanges.includes(k))];
            o.deleteBeforeReplace ||= d.deleteBeforeReplace;
        } else {
            if (changed.length === 0) {
                record("same");
                return commit(old.id, old.outputs);
            }
            replaces = changed.filter((k) => builtin.replaceKeys === "*" || builtin.replaceKeys.includes(k) || o.replaceOnChanges.includes(k));
        }
        if (replaces.length > 0) {
            record("replace", `${replaces.join(",")}${o.deleteBeforeReplace ? " (delete before replace)" : ""}`);
            if (this.opts.preview) return { id: "", outputs: previewOutputs(news) };
            if (o.deleteBeforeReplace) {
                await this.deleteOne(old);
                this.drop(old);
            } else {
                // Recorded at once, as the engine's pending-delete entry: a crash must not lose it.
                const pending = { ...old, urn: `${old.urn}#replaced-${old.id}` };
                this.pendingDeletes.push(pending);
                this.save(pending);
            }
            return create();
        }
        record("update", changed.join(","));
        if (this.opts.preview) return { id: old.id, outputs: previewOutputs(news) };
        if (host) {
            return commit(old.id, (await host.update(old.id, old.outputs, news)).outs);
        }
        return commit(old.id, builtin.update ? await builtin.update(old.id, old.outputs, news, log) : { ...old.outputs, ...news });
    }

    /** Resolves once a step has failed and no step is in flight. */
    async failedAndIdle(): Promise<void> {
        while (this.errors.length === 0 || this.inflight.size > 0) {
            await new Promise((r) => setTimeout(r, 50).unref());
        }
    }

    /** After the program: wait for steps in flight, then delete what was not registered. */
    async finish(programError?: unknown): Promise<void> {
        while (this.inflight.size > 0) {
            await Promise.allSettled([...this.inflight]);
        }
        if (programError && this.errors.length === 0) {
            this.errors.push(`program: ${programError instanceof Error ? programError.stack : String(programError)}`);
        }
        if (this.errors.length === 0) {
            const gone = Object.values(this.old.resources).filter((r) => !this.seen.has(r.urn));
            await this.deleteInOrder(gone);
            await this.deleteInOrder(this.pendingDeletes);
            this.outputs = this.stackOutputs; // a failed update keeps the outputs of the last one that succeeded
        }
        this.compact();
        if (this.host) await (await this.host).stop();
    }

    /** `pulumi destroy`: no program, everything in state goes. */
    async destroy(): Promise<void> {
        await this.deleteInOrder(Object.values(this.old.resources));
        this.outputs = {};
        this.compact();
        if (this.host) await (await this.host).stop();
    }

    /** Deletes `set`, each resource after everything in the set that depends on it (or is its child). */
    private async deleteInOrder(set: StateResource[]): Promise<void> {
        const urns = new Set(set.map((r) => r.urn));
        const done = new Map<string, Promise<void>>();
        const dependents = (r: StateResource) => set.filter((x) => x !== r && (x.deps.includes(r.urn) || x.parent === r.urn));
        const run = (r: StateResource): Promise<void> => {
            let p = done.get(r.urn);
            if (!p) {
                p = Promise.allSettled(dependents(r).map(run)).then(async (results) => {
                    if (results.some((x) => x.status === "rejected")) throw new Error(`${r.urn}: not deleted, a dependent failed`);
                    if (r.deletedWith && urns.has(r.deletedWith)) {
                        this.ops.push({ op: "skip-delete", urn: r.urn, type: r.type, name: r.name, preview: this.opts.preview, detail: `deletedWith ${r.deletedWith}` });
                    } else {
                        await this.deleteOne(r);
                    }
                    if (!this.opts.preview) this.drop(r);
                });
                done.set(r.urn, p);
            }
            return p;
        };
        const results = await Promise.allSettled(set.map(run));
        for (const x of results) {
            if (x.status === "rejected" && !this.errors.includes(String(x.reason?.message))) this.errors.push(String(x.reason?.message));
        }
    }

    private async deleteOne(r: StateResource): Promise<void> {
        this.ops.push({ op: "delete", urn: r.urn, type: r.type, name: r.name, preview: this.opts.preview });
        if (this.opts.preview || !r.custom) return;
        try {
            if (r.type.startsWith("pulumi-nodejs:dynamic/")) {
                await (await this.hostFor(r.outputs.__provider ?? r.inputs.__provider)).delete(r.id, r.outputs);
            } else {
                await BUILTINS[r.type]?.delete?.(r.id, r.outputs, (line) => this.commands.push({ urn: r.urn, line }));
            }
        } catch (err) {
            const msg = `${r.urn}: delete: ${err instanceof Error ? err.message : String(err)}`;
            this.errors.push(msg);
            throw new Error(msg);
        }
    }

    /**
     * One dynamic-provider host per run, Configured once with the stack config,
     * as the engine runs one `pulumi-nodejs` provider. DynamicHost binds one
     * provider text; a view per text shares the host process and its client.
     */
    private async hostFor(provider: string): Promise<DynamicHost> {
        this.host ??= DynamicHost.start(provider, this.opts.config);
        const host = await this.host;
        return host.provider === provider ? host : Object.create(host, { provider: { value: provider } });
    }

    /** URNs as the engine builds them: the parent's type chain, except the root stack's. */
    private urn(parent: string, type: string, name: string): string {
        let qualified = type;
        if (parent) {
            const parentType = parent.split("::")[2];
            if (parentType !== STACK_TYPE) qualified = `${parentType}$${type}`;
        }
        return `urn:pulumi:${this.opts.stack}::${this.opts.project}::${qualified}::${name}`;
    }

    private save(r: StateResource): void {
        this.next.resources[r.urn] = r;
        const was = this.view.get(r.urn);
        this.viewBytes += this.size(r) - (was ? this.size(was) : 0);
        this.view.set(r.urn, r);
        this.persisted({ save: r });
    }

    private drop(r: StateResource): void {
        delete this.next.resources[r.urn];
        this.removed.add(r.urn);
        const was = this.view.get(r.urn);
        if (was) this.viewBytes -= this.size(was);
        this.view.delete(r.urn);
        this.persisted({ drop: r.urn });
    }

    /** One step's change, journaled; and what a file backend would have written after it: the whole state. */
    private persisted(entry: JournalEntry): void {
        if (this.opts.preview) return;
        this.journal.append(entry);
        this.checkpoint.steps++;
        this.checkpoint.bytes += this.viewBytes;
    }

    /** Writes the whole state file and removes the journal (the end of a run). */
    private compact(): void {
        if (this.opts.preview) return;
        saveState(this.opts.stateFile, { resources: Object.fromEntries(this.view), outputs: this.outputs ?? this.old.outputs });
        this.journal.remove();
    }

    /** A record's size as Pulumi's checkpoint holds it (compact JSON, the provider text in it). */
    private size(r: StateResource): number {
        let n = this.sizes.get(r);
        if (n === undefined) this.sizes.set(r, (n = JSON.stringify(r).length));
        return n;
    }
}

type JournalEntry = { save: StateResource } | { drop: string } | { provider: [string, string] };

/**
 * `<state file>.journal`: one JSON line per step (a record saved, or removed), each
 * serialized provider once by hash, appended as steps finish. Replayed by `loadState`
 * onto the file when a run died before writing it.
 */
class Journal {
    private readonly file: string;
    private readonly written = new Set<string>();

    constructor(stateFile: string) {
        this.file = `${stateFile}.journal`;
    }

    exists(): boolean {
        return fs.existsSync(this.file);
    }

    append(entry: JournalEntry): void {
        const lines: string[] = [];
        if ("save" in entry) {
            const shrink = (p: Props) => {
                if (typeof p.__provider !== "string") return p;
                const h = providerHash(p.__provider);
                if (!this.written.has(h)) {
                    this.written.add(h);
                    lines.push(JSON.stringify({ provider: [h, p.__provider] }));
                }
                return { ...p, __provider: h };
            };
            const r = entry.save;
            lines.push(JSON.stringify({ save: { ...r, inputs: shrink(r.inputs), outputs: shrink(r.outputs) } }));
        } else {
            lines.push(JSON.stringify(entry));
        }
        fs.appendFileSync(this.file, lines.join("\n") + "\n");
    }

    remove(): void {
        fs.rmSync(this.file, { force: true });
        this.written.clear();
    }
}

function unexpected(args: { token?: string; type?: string }): never {
    throw new Error(`rehearsal: unexpected mock call ${args.token ?? args.type}`);
}

/** Unwraps secrets and resource references into plain values; keeps the unknown sentinel. */
export function plain(v: any): { value: any; secretKeys: string[] } {
    const secretKeys: string[] = [];
    const walk = (x: any, top?: string): any => {
        if (Array.isArray(x)) return x.map((e) => walk(e, top));
        if (x && typeof x === "object") {
            if (x[SIG] === rpc.specialSecretSig) {
                if (top) secretKeys.push(top);
                return walk(x.value, top);
            }
            if (x[SIG] === rpc.specialResourceSig) return x.id ?? x.urn;
            if (x[SIG] === rpc.specialOutputValueSig) return "value" in x ? walk(x.value, top) : rpc.unknownValue;
            return Object.fromEntries(Object.entries(x).map(([k, e]) => [k, walk(e, top ?? k)]));
        }
        return x;
    };
    return { value: walk(v), secretKeys: [...new Set(secretKeys)] };
}

/** Adds `hash` (SHA-256 of the file) to every file asset in `v`, as the engine does when it reads one. */
export function hashAssets(v: any): void {
    if (Array.isArray(v)) return v.forEach(hashAssets);
    if (!v || typeof v !== "object") return;
    if (v[SIG] === rpc.specialAssetSig && typeof v.path === "string") {
        v.hash = crypto.createHash("sha256").update(fs.readFileSync(v.path)).digest("hex");
        return;
    }
    Object.values(v).forEach(hashAssets);
}

function changedKeys(olds: Props, news: Props): string[] {
    const keys = new Set([...Object.keys(olds), ...Object.keys(news)]);
    return [...keys].filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]) || JSON.stringify(news[k])?.includes(rpc.unknownValue));
}

function previewOutputs(news: Props): Props {
    const out: Props = {};
    for (const [k, v] of Object.entries(news)) if (k !== "__provider") out[k] = v;
    return out;
}

/**
 * The state file, with each serialized provider stored once under its hash, and the
 * journal of a run that died before writing it (every complete line; a torn last one is
 * the step that was being written).
 */
export function loadState(file: string): State {
    const disk: { resources: Record<string, StateResource>; providers: Record<string, string>; outputs?: Props } = fs.existsSync(file)
        ? JSON.parse(fs.readFileSync(file, "utf8"))
        : { resources: {}, providers: {} };
    const journal = `${file}.journal`;
    if (fs.existsSync(journal)) {
        for (const line of fs.readFileSync(journal, "utf8").split("\n")) {
            let entry: JournalEntry;
            try {
                entry = JSON.parse(line);
            } catch {
                break;
            }
            if ("provider" in entry) disk.providers[entry.provider[0]] = entry.provider[1];
            else if ("save" in entry) disk.resources[entry.save.urn] = entry.save;
            else delete disk.resources[entry.drop];
        }
    }
    const expand = (p: Props) => (typeof p.__provider === "string" && p.__provider in disk.providers ? { ...p, __provider: disk.providers[p.__provider] } : p);
    for (const r of Object.values<StateResource>(disk.resources)) {
        r.inputs = expand(r.inputs);
        r.outputs = expand(r.outputs);
    }
    return { resources: disk.resources, outputs: disk.outputs };
}

const providerHashes = new Map<string, string>();

/** The key a serialized provider is stored under, `sha256:<16 hex>` (computed once per text). */
function providerHash(text: string): string {
    let h = providerHashes.get(text);
    if (h === undefined) providerHashes.set(text, (h = `sha256:${crypto.createHash("sha256").update(text).digest("hex").slice(0, 16)}`));
    return h;
}

export function saveState(file: string, state: State): void {
    const providers: Record<string, string> = {};
    const shrink = (p: Props) => {
        if (typeof p.__provider !== "string") return p;
        const h = providerHash(p.__provider);
        providers[h] = p.__provider;
        return { ...p, __provider: h };
    };
    const resources = Object.fromEntries(Object.entries(state.resources).map(([u, r]) => [u, { ...r, inputs: shrink(r.inputs), outputs: shrink(r.outputs) }]));
    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ resources, providers, outputs: state.outputs ?? {} }, null, 1));
    fs.renameSync(`${file}.tmp`, file);
}
