/**
 * `.ci/run` is the CI entry point. The suite turns a missing sshd, shellcheck or
 * ../shared into a failure only under CI=true, so `.ci/run` must set it itself:
 * a runner that does not would silently skip those tests. Run here with stub
 * apt-get and npm on PATH that record what they were called with, and CI unset.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";

const REPO = path.resolve(__dirname, "..");

describe(".ci/run", () => {
    it("regression: exports CI=true itself, so npm test runs with it even when the runner sets none", () => {
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "ci-run-"));
        const log = path.join(bin, "calls.log");
        try {
            for (const tool of ["apt-get", "npm"]) {
                fs.writeFileSync(path.join(bin, tool), `#!/bin/sh\necho "${tool} $* CI=\${CI:-unset}" >> "${log}"\n`, { mode: 0o755 });
            }
            const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
            delete env.CI;
            const r = spawnSync("bash", [path.join(REPO, ".ci", "run")], { env, encoding: "utf8" });
            expect(r.status, r.stderr).toBe(0);
            const calls = fs.readFileSync(log, "utf8").trim().split("\n");
            expect(calls.filter((c) => c.startsWith("npm "))).toEqual(["npm ci --no-audit --no-fund CI=true", "npm run -s forgejo CI=true", "npm test CI=true"]);
        } finally {
            fs.rmSync(bin, { recursive: true, force: true });
        }
    });
});
