/**
 * What the bench measures around the real `pulumi` CLI (test/engine/), by
 * starting it through another command (runPulumi's `wrap`):
 * - CPU: bash runs the CLI and prints `times` afterwards: the user and system
 *   time of the CLI and of every process it waited for (the language host and
 *   program, the plugins, the dynamic-provider host, their ssh and sftp clients);
 * - writes: strace follows the CLI and every process it starts and logs each
 *   write with its file's path; the bytes written under the backend's `.pulumi/`
 *   are what the file backend wrote, by kind (stacks: the checkpoint; history,
 *   backups, locks).
 */
import * as fs from "fs";

/** A wrap that leaves the children's CPU times in `file`. */
export function cpuWrap(file: string): (argv: string[]) => string[] {
    return (argv) => ["bash", "-c", `"$@"; rc=$?; times > '${file.replace(/'/g, `'\\''`)}'; exit $rc`, "bench", ...argv];
}

/** User + system CPU ms of the children, from `times` output (its second line). */
export function readTimes(file: string): number | undefined {
    const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n") : [];
    const m = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/.exec(lines[1] ?? "");
    return m ? Math.round((Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000) : undefined;
}

/** A wrap that logs every write of the CLI's process tree, with paths, to `file`. */
export function straceWrap(file: string): (argv: string[]) => string[] {
    return (argv) => ["strace", "-f", "-qq", "-y", "-s", "0", "-e", "trace=write,pwrite64,writev", "-e", "signal=none", "-o", file, ...argv];
}

/**
 * Bytes written under `<backend>/.pulumi/`, by its first directory (stacks, history,
 * backups, locks), and how many files were written under stacks/ (each checkpoint save
 * writes a new temporary file, renamed over the last).
 */
export function backendWrites(file: string, backendDir: string): { bytes: Record<string, number>; stackSaves: number } {
    const bytes: Record<string, number> = {};
    const saves = new Set<string>();
    const root = `${backendDir}/.pulumi/`;
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        const m = /(?:write|pwrite64|writev)\(\d+<([^>]+)>.*\)\s+=\s+(\d+)$/.exec(line);
        if (!m || !m[1].startsWith(root)) continue;
        const kind = m[1].slice(root.length).split("/")[0];
        bytes[kind] = (bytes[kind] ?? 0) + Number(m[2]);
        if (kind === "stacks") saves.add(m[1]);
    }
    return { bytes, stackSaves: saves.size };
}
