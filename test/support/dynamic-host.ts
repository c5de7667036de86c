/**
 * Drives Pulumi's own dynamic-provider host (`@pulumi/pulumi/cmd/dynamic-provider`)
 * over gRPC, the way the engine does: Configure once, then Check, Diff, Create,
 * Read, Update and Delete with the serialized provider in `__provider`.
 *
 * The provider is serialized in a child process under ts-node (CommonJS), as
 * `pulumi up` serializes it, and the host runs as plain Node in the project
 * directory, as the engine starts it.
 */
import { ChildProcess, execFile, spawn } from "child_process";
import * as path from "path";
import { promisify } from "util";

/* eslint-disable @typescript-eslint/no-require-imports */
const grpc = require("@grpc/grpc-js");
const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const provproto = require("@pulumi/pulumi/proto/provider_pb");
const structproto = require("google-protobuf/google/protobuf/struct_pb");
/* eslint-enable @typescript-eslint/no-require-imports */

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const PROJECT = "hero-os-grid-deployer";
const HOST = require.resolve("@pulumi/pulumi/cmd/dynamic-provider/index.js", { paths: [REPO_ROOT] });

type Props = Record<string, unknown>;

/** Serializes `exportName` of `modulePath` (relative to the repo) under ts-node, in a child process. */
export async function serializeProvider(modulePath: string, exportName: string): Promise<string> {
    const { stdout } = await promisify(execFile)(
        process.execPath,
        ["-r", "ts-node/register/transpile-only", "test/support/serialize-provider.ts", modulePath, exportName],
        { cwd: REPO_ROOT, env: { ...process.env, TS_NODE_PROJECT: path.join(REPO_ROOT, "tsconfig.json") }, maxBuffer: 64 << 20 },
    );
    return JSON.parse(stdout).text as string;
}

export interface DiffResult {
    changes: "none" | "some" | "unknown";
    replaces: string[];
    deleteBeforeReplace: boolean;
}

export interface CheckFailure {
    property: string;
    reason: string;
}

/** One running dynamic-provider host process and a gRPC client to it. */
export class DynamicHost {
    private constructor(
        private readonly child: ChildProcess,
        private readonly client: any,
        readonly provider: string,
        readonly stderr: () => string,
    ) {}

    /** The same host process, speaking for another provider (the engine sends each resource's own `__provider`). */
    forProvider(provider: string): DynamicHost {
        return Object.assign(Object.create(this), { provider }) as DynamicHost;
    }

    /** Starts the host (in the project directory, as the engine does, unless `cwd` says otherwise), and sends Configure with `config` keyed `<project>:<key>`. */
    static async start(provider: string, config: Record<string, string>, env: NodeJS.ProcessEnv = {}, cwd = REPO_ROOT): Promise<DynamicHost> {
        const child = spawn(process.execPath, [HOST, "127.0.0.1:0"], {
            cwd,
            env: { ...process.env, PULUMI_NODEJS_PROJECT: PROJECT, ...env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let err = "";
        child.stderr!.on("data", (d) => (err += d));
        const port = await new Promise<string>((resolve, reject) => {
            let out = "";
            const onData = (d: Buffer) => {
                out += d;
                const m = /^(\d+)\s*$/m.exec(out);
                if (m) {
                    child.stdout!.off("data", onData);
                    resolve(m[1]);
                }
            };
            child.stdout!.on("data", onData);
            child.once("exit", (code) => reject(new Error(`dynamic-provider host exited ${code}: ${err}`)));
        });
        const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        const host = new DynamicHost(child, client, provider, () => err);
        const args: Props = {};
        for (const [k, v] of Object.entries(config)) {
            args[`${PROJECT}:${k}`] = v;
        }
        const req = new provproto.ConfigureRequest();
        req.setArgs(structproto.Struct.fromJavaScript(args));
        await host.rpc("configure", req);
        return host;
    }

    private rpc(method: string, req: unknown): Promise<any> {
        return new Promise((resolve, reject) => {
            this.client[method](req, (err: Error | null, resp: unknown) => (err ? reject(err) : resolve(resp)));
        });
    }

    private withProvider(props: Props): Props {
        return { ...props, __provider: this.provider };
    }

    async check(olds: Props, news: Props): Promise<{ inputs: Props; failures: CheckFailure[] }> {
        const req = new provproto.CheckRequest();
        req.setOlds(structproto.Struct.fromJavaScript(olds));
        req.setNews(structproto.Struct.fromJavaScript(this.withProvider(news)));
        const resp = await this.rpc("check", req);
        const failures = resp.getFailuresList().map((f: any) => ({ property: f.getProperty(), reason: f.getReason() }));
        return { inputs: resp.getInputs().toJavaScript(), failures };
    }

    async diff(id: string, olds: Props, news: Props): Promise<DiffResult> {
        const req = new provproto.DiffRequest();
        req.setId(id);
        req.setOlds(structproto.Struct.fromJavaScript(olds));
        req.setNews(structproto.Struct.fromJavaScript(this.withProvider(news)));
        const resp = await this.rpc("diff", req);
        const kinds = provproto.DiffResponse.DiffChanges;
        const changes = resp.getChanges() === kinds.DIFF_SOME ? "some" : resp.getChanges() === kinds.DIFF_NONE ? "none" : "unknown";
        return { changes, replaces: resp.getReplacesList(), deleteBeforeReplace: resp.getDeletebeforereplace() };
    }

    async create(props: Props): Promise<{ id: string; outs: Props }> {
        const req = new provproto.CreateRequest();
        req.setProperties(structproto.Struct.fromJavaScript(this.withProvider(props)));
        const resp = await this.rpc("create", req);
        return { id: resp.getId(), outs: resp.getProperties().toJavaScript() };
    }

    async read(id: string, props: Props): Promise<{ id: string; outs: Props; inputs?: Props }> {
        const req = new provproto.ReadRequest();
        req.setId(id);
        req.setProperties(structproto.Struct.fromJavaScript(this.withProvider(props)));
        const resp = await this.rpc("read", req);
        return { id: resp.getId(), outs: resp.getProperties()?.toJavaScript() ?? {}, inputs: resp.getInputs()?.toJavaScript() };
    }

    async update(id: string, olds: Props, news: Props): Promise<{ outs: Props }> {
        const req = new provproto.UpdateRequest();
        req.setId(id);
        req.setOlds(structproto.Struct.fromJavaScript(olds));
        req.setNews(structproto.Struct.fromJavaScript(this.withProvider(news)));
        const resp = await this.rpc("update", req);
        return { outs: resp.getProperties().toJavaScript() };
    }

    async delete(id: string, props: Props): Promise<void> {
        const req = new provproto.DeleteRequest();
        req.setId(id);
        req.setProperties(structproto.Struct.fromJavaScript(this.withProvider(props)));
        await this.rpc("delete", req);
    }

    async stop(): Promise<void> {
        this.client.close();
        if (this.child.exitCode === null && this.child.signalCode === null) {
            const exited = new Promise((resolve) => this.child.once("exit", resolve));
            this.child.kill();
            await exited;
        }
    }
}
