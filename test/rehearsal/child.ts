/**
 * One rehearsal run, in its own process, under ts-node in CommonJS (as
 * `pulumi up` runs the program): sets the mocks, the stack config and the
 * engine's monitor, runs the program inside the root stack the way Pulumi's
 * Node language host does, lets the engine finish, and writes a JSON result.
 *
 * Usage: node -r ts-node/register/transpile-only test/rehearsal/child.ts <args.json>
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { processTreeCpuMs, stopSpawner, useSpawner } from "../engine/builtins";
import { Engine } from "./engine";

export interface ChildArgs {
    /** Absolute path of the program's main module (e.g. index.ts). */
    program: string;
    mode: "up" | "preview" | "destroy";
    stateFile: string;
    resultFile: string;
    project: string;
    stack: string;
    /** Stack config, un-namespaced keys. */
    config: Record<string, string>;
    secretKeys: string[];
}

async function main(): Promise<void> {
    const args: ChildArgs = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    // The ssh and sftp clients are started by a small helper process: forking this one is slow.
    useSpawner();
    const started = Date.now();
    const engine = new Engine({ stateFile: args.stateFile, preview: args.mode === "preview", config: args.config, project: args.project, stack: args.stack });
    let programError: unknown;
    const unhandled: unknown[] = [];
    process.on("unhandledRejection", (e) => unhandled.push(e));
    if (args.mode === "destroy") {
        await engine.destroy();
    } else {
        // "organization": what the file backend calls every stack's organization.
        await pulumi.runtime.setMocks({ call: unexpected, newResource: unexpected }, args.project, args.stack, args.mode === "preview", "organization");
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require("@pulumi/pulumi/runtime/settings").setMockOptions(engine.monitor(), args.project, args.stack, args.mode === "preview", "organization");
        const ns = (k: string) => `${args.project}:${k}`;
        pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(args.config).map(([k, v]) => [ns(k), v])), args.secretKeys.map(ns));
        const program = (async () => {
            await pulumi.runtime.runInPulumiStack(async () => {
                // eslint-disable-next-line @typescript-eslint/no-require-imports
                const mod = require(args.program);
                // Like Pulumi: a program that exports a function (index.ts: `export = async () => …`) is called.
                const fn = typeof mod === "function" ? mod : typeof mod.default === "function" ? mod.default : undefined;
                return fn ? await fn() : mod;
            });
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            await require("@pulumi/pulumi/runtime/settings").waitForRPCs();
        })();
        try {
            // After a failed step the engine ends the update, as Pulumi's does: registrations
            // waiting on the failed resource would otherwise wait forever.
            await Promise.race([program, engine.failedAndIdle()]);
        } catch (err) {
            programError = err;
        }
        await engine.finish(programError);
    }
    await stopSpawner();
    const result = {
        ok: engine.errors.length === 0,
        errors: engine.errors,
        ops: engine.ops,
        commands: engine.commands,
        outputs: engine.stackOutputs,
        unhandled: unhandled.length,
        ms: Date.now() - started,
        checkpoint: engine.checkpoint,
        maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
        // This process, the dynamic-provider host, the process runner and the ssh/sftp clients: the deployer's side.
        cpuMs: processTreeCpuMs(),
    };
    fs.writeFileSync(args.resultFile, JSON.stringify(result));
}

function unexpected(): never {
    throw new Error("rehearsal: the engine's monitor answers every call");
}

main()
    .catch((err) => {
        process.stderr.write(`rehearsal child: ${err instanceof Error ? err.stack : err}\n`);
        process.exitCode = 2;
    })
    .finally(() => {
        // gRPC clients and the program's own handles must not keep the run alive.
        setImmediate(() => process.exit());
    });
