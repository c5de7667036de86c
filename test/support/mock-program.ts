/**
 * Runs the real program (index.ts) under `pulumi.runtime.setMocks`, in this
 * process, and prints what it registered as one JSON line after the marker
 * `@@program@@`. Run in a child process under ts-node CommonJS, as `pulumi up`
 * runs the program (see program.ts), so closure serialization of the dynamic
 * providers is Pulumi's own.
 *
 * Env: PULUMI_CONFIG (JSON, as the CLI sets it), MOCK_STACK, MOCK_PREVIEW=1, MOCK_PREVIOUS_OUTPUTS (JSON).
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { MOCK_HOST_KEY } from "./fixtures";

/* eslint-disable @typescript-eslint/no-require-imports */
const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks");

export interface Registration {
    type: string;
    name: string;
    urn: string;
    parent: string;
    custom: boolean;
    dependencies: string[];
    deletedWith: string;
    deleteBeforeReplace: boolean;
    additionalSecretOutputs: string[];
    aliases: unknown[];
    /** Inputs as sent to the engine: secrets keep Pulumi's secret envelope. */
    object: Record<string, unknown>;
}

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Replaces Pulumi's secret envelopes by `{ secret: <value> }`, so tests can see what is secret. */
export function markSecrets(v: unknown): unknown {
    if (Array.isArray(v)) {
        return v.map(markSecrets);
    }
    if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (o["4dabf18193072939515e22adb298388d"] === SECRET_SIG) {
            return { secret: markSecrets(o.value) };
        }
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, markSecrets(x)]));
    }
    return v;
}

/** Canned outputs per resource type, standing in for what the real providers return. */
function fakeState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
        case "tls:index/privateKey:PrivateKey":
            return { ...inputs, privateKeyOpenssh: `PRIVATE KEY OF ${name}`, privateKeyPemPkcs8: `PKCS8 PRIVATE KEY OF ${name}`, publicKeyOpenssh: `ssh-ed25519 AAAA${name}\n` };
        case "random:index/randomPassword:RandomPassword":
            return { ...inputs, result: `password-of-${name}` };
        case "pulumi-nodejs:dynamic/hero:ForgeAccount":
            return { ...inputs, login: inputs.username, userId: 1, createdByTool: true, token: `token-of-${name}`, tokenId: 1, tokenNote: "", feedbackAccess: true, managedBy: "" };
        case "pulumi-nodejs:dynamic/hero:ForgeLogin":
            return { ...inputs, appId: 3, name: `Hero OS demo login for ${inputs.username}`, clientId: `client-id-of-${name}`, clientSecret: `client-secret-of-${name}`, redirectUri: `${inputs.gatewayUrl}/oauth/callback`, claimed: false };
        case "pulumi-nodejs:dynamic/hero:Vm":
            return { ...inputs, vmId: `vm-${inputs.name}`, computeEndpoint: "http://127.0.0.1:9/rpc", nodeId: 7, myceliumIp: "5a3:1b2::7", state: "running" };
        case "pulumi-nodejs:dynamic/hero:Gateway":
            return { ...inputs, computeEndpoint: "http://127.0.0.1:9/rpc", fqdn: `${inputs.name}.gent02.grid.tf`, url: `https://${inputs.name}.gent02.grid.tf` };
        case "pulumi-nodejs:dynamic/hero:FeedbackHub":
            return { ...inputs, repoUrl: `https://forge.example.org/${inputs.repo}`, orgCreatedByTool: true, repoCreatedByTool: true, customizedTemplates: [] };
        case "command:remote:Command":
            // The host-key steps print the VM's ED25519 host key; the program parses it.
            return { ...inputs, stdout: /-host-key(-check)?$/.test(name) ? MOCK_HOST_KEY : `ran ${name}`, stderr: "" };
        case "pulumi:pulumi:StackReference":
            // The stack's outputs from its last update (MOCK_PREVIOUS_OUTPUTS, JSON), as the engine reads them.
            return { ...inputs, outputs: JSON.parse(process.env.MOCK_PREVIOUS_OUTPUTS ?? "{}"), secretOutputNames: [] };
        default:
            return { ...inputs };
    }
}

async function main(): Promise<void> {
    const registrations: Registration[] = [];
    const secretOutputs = new Map<string, string[]>();
    const original = MockMonitor.prototype.registerResource;
    MockMonitor.prototype.registerResource = function (req: any, callback: any) {
        const parent = req.getParent();
        registrations.push({
            type: req.getType(),
            name: req.getName(),
            urn: `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${parent ? `${parent.split("::")[2]}$` : ""}${req.getType()}::${req.getName()}`,
            parent,
            custom: req.getCustom(),
            dependencies: req.getDependenciesList(),
            deletedWith: req.getDeletedwith(),
            deleteBeforeReplace: req.getDeletebeforereplace(),
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
            aliases: req.getAliasesList().map((a: any) => a.toObject()),
            object: markSecrets(req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>,
        });
        secretOutputs.set(`${req.getType()}::${req.getName()}`, req.getAdditionalsecretoutputsList());
        return original.call(this, req, callback);
    };
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                // Mocks do not apply additionalSecretOutputs; the engine does, so do it here.
                const state = fakeState(args.type, args.name, args.inputs);
                for (const key of secretOutputs.get(`${args.type}::${args.name}`) ?? []) {
                    if (key in state) {
                        state[key] = pulumi.secret(state[key]);
                    }
                }
                return { id: `${args.name}-id`, state };
            },
            call: (args) => {
                throw new Error(`unexpected call to ${args.token}`);
            },
        },
        "hero-os-grid-deployer",
        process.env.MOCK_STACK ?? "dev",
        process.env.MOCK_PREVIEW === "1",
        "organization", // what the file backend calls every stack's organization
    );
    let error: string | undefined;
    let outputs: Record<string, unknown> = {};
    try {
        const mod = require(path.resolve(__dirname, "..", "..", "index.ts"));
        // Like Pulumi's runtime: a program that exports a function is called, and its result is the stack's outputs.
        const program = typeof mod === "function" ? await mod() : mod;
        for (const [key, value] of Object.entries(program)) {
            const out: pulumi.Output<unknown> = pulumi.output(value as pulumi.Input<unknown>);
            const plain = await new Promise((resolve) => out.apply(resolve));
            const secret = await (out as any).isSecret;
            outputs[key] = secret ? { secret: plain } : plain;
        }
        // Let registrations that nothing awaited finish.
        for (let i = 0; i < 20; i++) {
            await new Promise((r) => setImmediate(r));
        }
    } catch (err) {
        error = err instanceof pulumi.RunError ? err.message : String((err as Error)?.stack ?? err);
        outputs = {};
    }
    process.stdout.write(`\n@@program@@${JSON.stringify({ registrations, outputs, error })}\n`);
}

main().catch((err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exitCode = 1;
});
