/**
 * scripts/engine/build.sh (`npm run engine`): a warm cache answers at once with the
 * bin directory and downloads nothing; without Go, or with the module proxy off, it
 * refuses with what to do, before building anything. (The cold build itself runs
 * in .ci/run on a new machine; its time is in docs/testing.md.)
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { engineBuilt, engineCacheBin, offlineEnv, PULUMI_VERSION, REPO_ROOT } from "./engine/cli";

const SCRIPT = path.join(REPO_ROOT, "scripts", "engine", "build.sh");

function build(env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        execFile("bash", [SCRIPT], { env, cwd: REPO_ROOT }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
    });
}

/** A PATH with node and bash but no go. */
function pathWithoutGo(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "no-go-"));
    for (const tool of ["node", "bash", "mktemp", "rm", "mkdir", "cat", "dirname", "sha256sum", "cut"]) {
        for (const d of (process.env.PATH ?? "").split(path.delimiter)) {
            if (fs.existsSync(path.join(d, tool))) {
                fs.symlinkSync(path.join(d, tool), path.join(dir, tool));
                break;
            }
        }
    }
    return dir;
}

describe("npm run engine", { timeout: 60_000 }, () => {
    it.runIf(engineBuilt())("with the cache present: prints the bin directory at once and builds nothing", async () => {
        const r = await build({ ...process.env });
        expect(r.code).toBe(0);
        expect(r.stdout.trim()).toBe(engineCacheBin());
        expect(r.stderr).toContain(`engine: cached: pulumi ${PULUMI_VERSION} in ${engineCacheBin()}`);
        expect(r.stderr).not.toMatch(/building|resolving/);
    });

    it("refuses without Go, naming what to install, into an empty cache", async () => {
        const cache = fs.mkdtempSync(path.join(os.tmpdir(), "engine-cache-"));
        const r = await build({ HOME: os.homedir(), PATH: pathWithoutGo(), HERO_ENGINE_CACHE: cache });
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("engine: Go is not on PATH; install Go >= 1.25.11");
        expect(fs.readdirSync(cache)).toEqual([]);
    });

    it("refuses with the Go module proxy off", async () => {
        const cache = fs.mkdtempSync(path.join(os.tmpdir(), "engine-cache-"));
        const r = await build({ ...process.env, GOPROXY: "off", HERO_ENGINE_CACHE: cache });
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("engine: GOPROXY is off; the engine is built from the Go module proxy");
    });

    it("the offline settings live in one file, which every CLI run of the tests uses", () => {
        expect(offlineEnv()).toMatchObject({ PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" });
        const mentions = fs.readFileSync(SCRIPT, "utf8") + fs.readFileSync(path.join(REPO_ROOT, "scripts", "engine", "env.sh"), "utf8");
        expect(mentions).not.toContain("PULUMI_SKIP_UPDATE_CHECK=");
    });
});
