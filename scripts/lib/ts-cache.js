/**
 * A require hook for `.ts` files that keeps each file's transpiled JavaScript
 * in node_modules/.cache/hero-os-grid-deployer/ts, keyed by the SHA-256 of its
 * text and of this hook. A warm run never loads the TypeScript compiler (half a
 * second on its own), which is what lets `npm run validate` answer in well under
 * a second. Transpile only, like ts-node/register/transpile-only: `npm test` and
 * `npm run typecheck` are where the types are checked.
 *
 *   node -r ./scripts/lib/ts-cache.js scripts/validate.ts
 */
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const CACHE = path.join(__dirname, "..", "..", "node_modules", ".cache", "hero-os-grid-deployer", "ts");
const SELF = crypto.createHash("sha256").update(fs.readFileSync(__filename)).digest("hex").slice(0, 16);
let ts;

require.extensions[".ts"] = function (module, filename) {
    const source = fs.readFileSync(filename, "utf8");
    const key = crypto.createHash("sha256").update(SELF).update(filename).update("\0").update(source).digest("hex");
    const cached = path.join(CACHE, `${key}.js`);
    let js;
    try {
        js = fs.readFileSync(cached, "utf8");
    } catch {
        ts = ts || require("typescript");
        js = ts.transpileModule(source, {
            fileName: filename,
            compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, esModuleInterop: true, resolveJsonModule: true },
        }).outputText;
        try {
            fs.mkdirSync(CACHE, { recursive: true });
            // Written whole, then renamed: a concurrent run never reads half a file.
            const tmp = `${cached}.${process.pid}.tmp`;
            fs.writeFileSync(tmp, js);
            fs.renameSync(tmp, cached);
        } catch {
            // A read-only checkout still runs, uncached.
        }
    }
    module._compile(js, filename);
};
