/**
 * Stand-ins for the command, tls and random resource plugins, served to the
 * real `pulumi` CLI over the plugin protocol (gRPC ResourceProvider).
 *
 * Why stand-ins: the Go module proxy our machines reach refuses the modules of
 * pulumi-command, pulumi-tls and pulumi-random, so the real plugins cannot be
 * built here (scripts/engine/build.sh). The work behind each resource type is
 * `builtins.ts` (real ED25519 keys, real random passwords, real `ssh`/`sftp`
 * against the rehearsal's OpenSSH servers). The engine around them is the real
 * one: it diffs, orders, saves and encrypts state, refreshes and deletes.
 *
 * The plugin says it does not accept secrets, so the engine sends plain values
 * and marks every output whose input was secret as secret itself (its
 * `annotateSecrets`), and it reports its own version, never the real plugin's.
 * Each SSH or SFTP command it runs is appended to $HERO_ENGINE_COMMAND_LOG
 * (one JSON line: urn, line) when that is set.
 *
 * Usage (the engine starts it): node -r ts-node/register/transpile-only plugins.ts <package> <engine address>
 */
import * as fs from "fs";
import { BUILTINS, Props, stopSpawner, useSpawner } from "./builtins";

/* eslint-disable @typescript-eslint/no-require-imports */
const grpc = require("@grpc/grpc-js");
const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const provproto = require("@pulumi/pulumi/proto/provider_pb");
const plugproto = require("@pulumi/pulumi/proto/plugin_pb");
const emptyproto = require("google-protobuf/google/protobuf/empty_pb");
const structproto = require("google-protobuf/google/protobuf/struct_pb");
/* eslint-enable @typescript-eslint/no-require-imports */

export const STANDIN_VERSION = "0.1.0-hero-deployer-standin";
const Kind = provproto.PropertyDiff.Kind;

type Callback = (err: unknown, value?: unknown) => void;

function builtinFor(urn: string) {
    const type = urn.split("::")[2]?.split("$").pop() ?? "";
    const b = BUILTINS[type];
    if (!b) throw new Error(`stand-in plugin: resource type ${type} is not implemented`);
    return b;
}

const plain = (s: any): Props => (s ? s.toJavaScript() : {});
const struct = (p: Props) => structproto.Struct.fromJavaScript(JSON.parse(JSON.stringify(p ?? {})));

function logger(urn: string): (msg: string) => void {
    const file = process.env.HERO_ENGINE_COMMAND_LOG;
    return (line) => {
        if (file) fs.appendFileSync(file, `${JSON.stringify({ urn, line })}\n`);
    };
}

/** The top-level input keys whose values differ (deep, by JSON). */
export function changedKeys(olds: Props, news: Props): string[] {
    const keys = new Set([...Object.keys(olds), ...Object.keys(news)]);
    return [...keys].filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k])).sort();
}

/** A handler that answers with `fn`'s value, or with its error as the gRPC status message. */
function handle(fn: (req: any) => Promise<unknown> | unknown) {
    return (call: { request: any }, cb: Callback) => {
        Promise.resolve()
            .then(() => fn(call.request))
            .then(
                (v) => cb(null, v),
                (e) => cb({ code: grpc.status.UNKNOWN, details: e instanceof Error ? e.message : String(e) }),
            );
    };
}

const service = {
    getPluginInfo: handle(() => {
        const info = new plugproto.PluginInfo();
        info.setVersion(STANDIN_VERSION);
        return info;
    }),
    checkConfig: handle((req) => {
        const res = new provproto.CheckResponse();
        res.setInputs(req.getNews());
        return res;
    }),
    diffConfig: handle(() => {
        const res = new provproto.DiffResponse();
        res.setChanges(provproto.DiffResponse.DiffChanges.DIFF_NONE);
        return res;
    }),
    configure: handle(() => {
        const res = new provproto.ConfigureResponse();
        res.setAcceptsecrets(false);
        res.setAcceptresources(false);
        res.setSupportspreview(false);
        return res;
    }),
    check: handle((req) => {
        builtinFor(req.getUrn());
        const res = new provproto.CheckResponse();
        res.setInputs(req.getNews());
        return res;
    }),
    diff: handle((req) => {
        const b = builtinFor(req.getUrn());
        const olds = req.getOldInputs() ? plain(req.getOldInputs()) : plain(req.getOlds());
        const changed = changedKeys(olds, plain(req.getNews()));
        const replaces = b.replaceKeys === "*" ? changed : changed.filter((k) => (b.replaceKeys as string[]).includes(k));
        const res = new provproto.DiffResponse();
        res.setChanges(changed.length ? provproto.DiffResponse.DiffChanges.DIFF_SOME : provproto.DiffResponse.DiffChanges.DIFF_NONE);
        res.setDiffsList(changed);
        res.setReplacesList(replaces);
        res.setHasdetaileddiff(true);
        const detailed = res.getDetaileddiffMap();
        for (const k of changed) {
            const d = new provproto.PropertyDiff();
            d.setKind(replaces.includes(k) ? Kind.UPDATE_REPLACE : Kind.UPDATE);
            d.setInputdiff(true);
            detailed.set(k, d);
        }
        return res;
    }),
    create: handle(async (req) => {
        const { id, outputs } = await builtinFor(req.getUrn()).create(plain(req.getProperties()), logger(req.getUrn()));
        const res = new provproto.CreateResponse();
        res.setId(id);
        res.setProperties(struct(outputs));
        return res;
    }),
    read: handle((req) => {
        // As the real providers do for these types: what is in state is what exists.
        const res = new provproto.ReadResponse();
        res.setId(req.getId());
        res.setProperties(req.getProperties());
        res.setInputs(req.getInputs());
        return res;
    }),
    update: handle(async (req) => {
        const b = builtinFor(req.getUrn());
        const news = plain(req.getNews());
        const outputs = b.update ? await b.update(req.getId(), plain(req.getOlds()), news, logger(req.getUrn())) : news;
        const res = new provproto.UpdateResponse();
        res.setProperties(struct(outputs));
        return res;
    }),
    delete: handle(async (req) => {
        const b = builtinFor(req.getUrn());
        await b.delete?.(req.getId(), plain(req.getProperties()), logger(req.getUrn()));
        return new emptyproto.Empty();
    }),
    cancel: handle(() => new emptyproto.Empty()),
};

function main(): void {
    // ssh and sftp are started by spawner.js: forking this process (ts-node loaded) is slower.
    useSpawner();
    const server = new grpc.Server();
    server.addService(provrpc.ResourceProviderService, service);
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err: Error | null, port: number) => {
        if (err) {
            process.stderr.write(`stand-in plugin: ${err.message}\n`);
            process.exit(1);
        }
        process.stdout.write(`${port}\n`);
    });
    const stop = () => {
        server.forceShutdown();
        void stopSpawner().finally(() => process.exit(0));
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
}

if (require.main === module) main();
