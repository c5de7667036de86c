/**
 * Serializes one dynamic provider object the way `pulumi up` does: in Node,
 * under ts-node in CommonJS, with Pulumi's own closure serializer.
 *
 * Usage: node -r ts-node/register/transpile-only test/support/serialize-provider.ts <module> <export>
 * Prints JSON `{ "text": "<serialized module>" }` on stdout.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

async function main(): Promise<void> {
    const [modulePath, exportName] = process.argv.slice(2);
    if (!modulePath || !exportName) {
        throw new Error("usage: serialize-provider.ts <module> <export>");
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.resolve(modulePath));
    const provider = exportName.split(".").reduce((o: any, k) => o?.[k], mod); // e.g. "SHIMS.vm"
    if (!provider) {
        throw new Error(`${modulePath} exports no ${exportName}`);
    }
    // Exactly what pulumi.dynamic.Resource does with its provider argument.
    const sf = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
    process.stdout.write(JSON.stringify({ text: sf.text }));
}

main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : err}\n`);
    process.exitCode = 1;
});
