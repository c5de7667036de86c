/**
 * scripts/forgejo/build.sh, the build of the real Forgejo the Forge tests run
 * against: clean under shellcheck, quick when its cache is there, and clear
 * when it cannot build (no Go, no module proxy). The build itself runs in
 * .ci/run, before the tests.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import { forgejoBuildDir, forgejoPin, realForgejoBinary } from "./support/real-forgejo";

const SCRIPT = path.resolve(__dirname, "../scripts/forgejo/build.sh");
const haveShellcheck = spawnSync("shellcheck", ["--version"]).status === 0;
const haveGo = spawnSync("go", ["version"]).status === 0;
const binary = realForgejoBinary("the cached-build test of scripts/forgejo/build.sh");

/** Where a tool is, found on this PATH (the "no Go" run gets a PATH without it). */
const which = (tool: string) => spawnSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
const BASH = which("bash");

function build(env: NodeJS.ProcessEnv) {
    const r = spawnSync(BASH, [SCRIPT], { env, encoding: "utf8", timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const made: string[] = [];
afterAll(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    made.push(d);
    return d;
}

function emptyCache(): string {
    return tempDir("hero-forgejo-cache-");
}

describe("scripts/forgejo/build.sh", () => {
    it.skipIf(!haveShellcheck)("is clean under shellcheck", () => {
        const r = spawnSync("shellcheck", ["-s", "bash", SCRIPT], { encoding: "utf8" });
        expect(r.stdout).toBe("");
        expect(r.status).toBe(0);
    });

    it("pins a module version and its checksum, and keys the cache by the version", () => {
        const pin = forgejoPin();
        expect(pin.FORGEJO_MODULE_VERSION).toMatch(/^v\d+\.\d+\.\d+-/);
        expect(pin.FORGEJO_MODULE_SUM).toMatch(/^h1:[A-Za-z0-9+/]+=*$/);
        expect(pin.FORGEJO_VERSION.startsWith(pin.FORGEJO_CACHE_KEY)).toBe(true);
        expect(forgejoBuildDir({ HERO_FORGEJO_CACHE: "/c" })).toBe(`/c/${pin.FORGEJO_CACHE_KEY}`);
        expect(forgejoBuildDir({ XDG_CACHE_HOME: "/x" })).toBe(`/x/hero-os-grid-deployer/forgejo/${pin.FORGEJO_CACHE_KEY}`);
    });

    it.skipIf(!binary)("with its cache present only checks it, in seconds, and prints the binary's path last", () => {
        const started = Date.now();
        const r = build(process.env);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout.trim().split("\n").at(-1)).toBe(binary!.bin);
        expect(r.stderr).toContain(`cached: Forgejo ${forgejoPin().FORGEJO_VERSION}`);
        expect(Date.now() - started).toBeLessThan(10_000);
    });

    it("refuses clearly when Go is missing", () => {
        const bin = tempDir("hero-nogo-");
        fs.symlinkSync(which("dirname"), path.join(bin, "dirname"));
        const r = build({ PATH: bin, HOME: os.tmpdir(), HERO_FORGEJO_CACHE: emptyCache() });
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/FAILED: Go is missing: install Go >= 1\.23/);
    });

    it.skipIf(!haveGo)("refuses clearly when the Go module proxy is switched off", () => {
        const r = build({ ...process.env, GOPROXY: "off", HERO_FORGEJO_CACHE: emptyCache() });
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/FAILED: GOPROXY is 'off': the build downloads Forgejo and its dependencies from the Go module proxy/);
    });
});
