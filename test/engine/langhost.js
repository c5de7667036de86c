#!/usr/bin/env node
/**
 * Our own Node.js language host for the real `pulumi` CLI in the tests.
 *
 * Why ours: the upstream host (module github.com/pulumi/pulumi/sdk/nodejs/cmd/
 * pulumi-language-nodejs/v3) is refused by the Go module proxy our machines
 * reach, so it cannot be built here (scripts/engine/build.sh). This host does
 * what the upstream one does for `up`, `preview`, `refresh` and `destroy` of a
 * TypeScript program, and nothing more: Run starts `@pulumi/pulumi/cmd/run`
 * (resolved from the program's own node_modules) with the same flags and
 * environment the upstream host passes (monitor, engine, organization,
 * project, root directory, stack, pwd, dry run, parallel; PULUMI_CONFIG with
 * `<ns>:config:<key>` keys, PULUMI_CONFIG_SECRET_KEYS, PULUMI_NODEJS_TYPESCRIPT
 * when the project says `typescript: true`). It does NOT proxy the monitor, serve
 * the synchronous-invoke pipes, install dependencies, report program
 * dependencies or generate code; the engine gets UNIMPLEMENTED for those.
 *
 * It reports its own version, never the CLI's: see VERSION.
 */
"use strict";
const { spawn } = require("child_process");
const path = require("path");

const VERSION = "0.1.0-hero-deployer-test-host";
// @pulumi/pulumi's cmd/run exits with this after it has shown an actionable message.
const BAIL_EXIT_CODE = 32;

function sdkModule(programDir, rel) {
    return require(require.resolve(`@pulumi/pulumi/${rel}`, { paths: [programDir, __dirname] }));
}

function main(argv) {
    const engineArg = argv.filter((a) => !a.startsWith("-")).pop();
    const repo = path.resolve(__dirname, "..", "..");
    const grpc = require(require.resolve("@grpc/grpc-js", { paths: [repo] }));
    const langrpc = sdkModule(repo, "proto/language_grpc_pb");
    const langproto = sdkModule(repo, "proto/language_pb");
    const plugproto = sdkModule(repo, "proto/plugin_pb");
    const emptyproto = require(require.resolve("google-protobuf/google/protobuf/empty_pb", { paths: [repo] }));

    let engineAddress = engineArg;
    const children = new Set();
    const service = {
        handshake(call, cb) {
            engineAddress = call.request.getEngineAddress();
            cb(null, new langproto.LanguageHandshakeResponse());
        },
        getPluginInfo(_call, cb) {
            const info = new plugproto.PluginInfo();
            info.setVersion(VERSION);
            cb(null, info);
        },
        // The engine loads each provider when a resource first asks for it.
        getRequiredPlugins(_call, cb) {
            cb(null, new langproto.GetRequiredPluginsResponse());
        },
        getRequiredPackages(_call, cb) {
            cb(null, new langproto.GetRequiredPackagesResponse());
        },
        run(call, cb) {
            run(call.request, engineAddress, children).then(
                (res) => cb(null, res),
                (err) => {
                    const res = new langproto.RunResponse();
                    res.setError(`language host: ${err.message}`);
                    cb(null, res);
                },
            );
        },
        cancel(_call, cb) {
            for (const child of children) {
                child.kill("SIGINT");
            }
            cb(null, new emptyproto.Empty());
        },
    };

    async function run(req, engine, running) {
        const info = req.getInfo();
        const programDir = info.getProgramDirectory();
        const options = info.getOptions() ? info.getOptions().toJavaScript() : {};
        const runPath = require.resolve("@pulumi/pulumi/cmd/run", { paths: [programDir] });
        const args = [runPath];
        const flag = (k, v) => {
            if (v !== undefined && v !== "") {
                args.push(`--${k}`, String(v));
            }
        };
        flag("monitor", req.getMonitorAddress());
        flag("engine", engine);
        flag("organization", req.getOrganization());
        flag("project", req.getProject());
        flag("root-directory", info.getRootDirectory());
        flag("stack", req.getStack());
        flag("pwd", programDir);
        if (req.getDryrun()) {
            args.push("--dry-run");
        }
        flag("parallel", req.getParallel());
        args.push(info.getEntryPoint() || ".", ...req.getArgsList());

        const config = {};
        for (const [key, value] of req.getConfigMap().entries()) {
            const at = key.indexOf(":");
            config[key.includes(":config:") || at < 0 ? key : `${key.slice(0, at)}:config:${key.slice(at + 1)}`] = value;
        }
        const env = {
            ...process.env,
            PULUMI_CONFIG: JSON.stringify(config),
            PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(req.getConfigsecretkeysList()),
        };
        if (options.typescript !== false) {
            env.PULUMI_NODEJS_TYPESCRIPT = "true";
        }
        if (options.tsconfig) {
            env.PULUMI_NODEJS_TSCONFIG_PATH = options.tsconfig;
        }
        const code = await new Promise((resolve, reject) => {
            const child = spawn(process.execPath, args, { cwd: programDir, env, stdio: ["ignore", "inherit", "inherit"] });
            running.add(child);
            child.on("error", reject);
            child.on("exit", (c, signal) => {
                running.delete(child);
                resolve(signal ? 1 : c);
            });
        });
        const res = new langproto.RunResponse();
        if (code === BAIL_EXIT_CODE) {
            res.setBail(true);
        } else if (code !== 0) {
            res.setError(`Program exited with non-zero exit code: ${code}`);
        }
        return res;
    }

    const server = new grpc.Server();
    server.addService(langrpc.LanguageRuntimeService, service);
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) {
            process.stderr.write(`language host: ${err.message}\n`);
            process.exit(1);
        }
        process.stdout.write(`${port}\n`);
    });
    const stop = () => {
        for (const child of children) {
            child.kill("SIGINT");
        }
        server.forceShutdown();
        process.exit(0);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
}

main(process.argv.slice(2));
