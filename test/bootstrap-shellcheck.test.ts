/**
 * shellcheck over every bootstrap script, over a user's bundle exactly as it is shipped
 * (Hero command forms + lib + each step's parameters and script), over each step's
 * stdin as sent, and over what bash then runs (the stdin with the bundle in place of
 * the line that sources it). Skipped with a message only when shellcheck is absent
 * outside CI; in CI (CI=true) absence fails.
 */
import { stepValues } from "./support/fixtures";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { renderBundle, renderStep } from "../components/bundle";
import { hostKeyCheckStdin, hostKeyStdin } from "../components/host-key";
import { STEPS, defaultEnv } from "../components/render";
import { resolveServices } from "../users/catalog";
import { THIN_VM_COMMAND } from "./rehearsal/world";

const SCRIPTS = path.join(__dirname, "..", "components", "scripts");
const have = spawnSync("shellcheck", ["--version"]).status === 0;
if (!have && process.env.CI === "true") throw new Error("CI: shellcheck is missing; .ci/run must install it (apt-get install shellcheck)");
if (!have) console.warn("SKIPPED bootstrap shellcheck tests: shellcheck is not installed (apt-get install shellcheck)");

function shellcheck(args: string[], input?: string): { status: number | null; out: string } {
    const r = spawnSync("shellcheck", args, { input, encoding: "utf8" });
    return { status: r.status, out: r.stdout + r.stderr };
}

describe.skipIf(!have)("shellcheck", () => {
    const files = fs.readdirSync(SCRIPTS).filter((f) => f.endsWith(".sh"));

    it("finds the lib, the host-key script and one script per step", () => {
        expect(files.sort()).toEqual(["lib.sh", "host-key.sh", "host-key-check.sh", ...STEPS.map((s) => `${s}.sh`)].sort());
    });

    it("the host-key and host-key-check payloads, as sent on stdin, are clean", () => {
        const check = { username: "alice", vmName: "devalice", vmId: "1", host: "400::1", pinned: "ssh-ed25519 AAAA", seen: "", pinUrn: "urn:x" };
        for (const stdin of [hostKeyStdin("", 600), hostKeyCheckStdin("/tmp/root", check)]) {
            const r = shellcheck(["-s", "bash", "-"], stdin);
            expect(r.out).toBe("");
            expect(r.status).toBe(0);
        }
    });

    it("the bench's thin-VM ForceCommand (test/rehearsal/world.ts) is clean", () => {
        const r = shellcheck(["-s", "bash", "-"], THIN_VM_COMMAND);
        expect(r.out).toBe("");
        expect(r.status).toBe(0);
    });

    for (const file of files) {
        it(`${file} is clean and starts with set -euo pipefail`, () => {
            const text = fs.readFileSync(path.join(SCRIPTS, file), "utf8");
            expect(text).toMatch(/^#!\/usr\/bin\/env bash\n(#.*\n)*set -euo pipefail\n/);
            const r = shellcheck(["-s", "bash", path.join(SCRIPTS, file)]);
            expect(r.out).toBe("");
            expect(r.status).toBe(0);
        });
    }

    for (const file of ["scripts/deploy.sh", ".ci/run"]) {
        it(`${file} (the deploy wrapper and CI entry point) is clean`, () => {
            const r = shellcheck(["-s", "bash", path.join(__dirname, "..", file)]);
            expect(r.out).toBe("");
            expect(r.status).toBe(0);
        });
    }

    const v = stepValues({}, resolveServices(["slides", "voice"]));
    v.user.fullName = "A 'quoted' $(name)";
    const env = defaultEnv(v.host, v.labChannel);
    const bundle = renderBundle(v, env);

    it("the bundle, as shipped, is clean (SC2016 excluded: literal $ in quoted values is the point)", () => {
        const r = shellcheck(["-s", "bash", "-e", "SC2016", "-"], bundle.text);
        expect(r.out).toBe("");
        expect(r.status).toBe(0);
    });

    for (const step of STEPS) {
        it(`the ${step} stdin is clean as sent, and with the bundle in place of its source line`, () => {
            const { stdin } = renderStep(step, bundle, env, { forgeToken: "tok`$x'" });
            // As sent: shellcheck cannot follow the source line (SC1091) and sees HB_* unused (SC2034).
            const sent = shellcheck(["-s", "bash", "-e", "SC1091,SC2034,SC2016", "-"], stdin);
            expect(sent.out).toBe("");
            const lines = stdin.split("\n");
            const at = lines.findIndex((l) => l.startsWith(". '"));
            expect(at, "the source line").toBeGreaterThan(0);
            lines.splice(at, 1, bundle.text.replace(/^#!.*\n/, ""));
            const r = shellcheck(["-s", "bash", "-e", "SC2016", "-"], lines.join("\n"));
            expect(r.out).toBe("");
            expect(r.status).toBe(0);
        });
    }
});
