/**
 * Where whole runs under the real `pulumi` CLI happen: one directory holding a
 * file backend (`backend/`), a PULUMI_HOME (`home/`) and a project directory
 * (`project/`) that links the repository's Pulumi.yaml, package.json,
 * tsconfig.json, index.ts and node_modules, so each stack's config file
 * (`Pulumi.<stack>.yaml`, written by `writeConfig`) stays out of the repository.
 * Several stacks share one workspace, as stacks share a backend.
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { CliResult, engineDirs, offlineEnv, PROJECT, REPO_ROOT, runPulumi } from "./cli";

/** What a call may add: environment, stdin, a time limit, and a signal that kills it (see runPulumi). */
export interface CallOptions {
    env?: NodeJS.ProcessEnv;
    input?: string;
    timeoutMs?: number;
    signal?: AbortSignal;
    wrap?: (argv: string[]) => string[];
}

/** The passphrase that encrypts the tests' stack secrets (a test value, not a secret). */
export const TEST_PASSPHRASE = "rehearsal passphrase, tests only";

const LINKED = ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts", "node_modules"];

export class Workspace {
    readonly projectDir: string;
    readonly backendDir: string;
    readonly home: string;
    /** Ciphertext of each secret value already encrypted, by stack and value (a CLI call saved per run). */
    private readonly sealed = new Map<string, string>();

    /** `own`: project files written with this text instead of linked (the bench's bare program). */
    constructor(
        readonly dir: string,
        own: Record<string, string> = {},
        readonly project = PROJECT,
    ) {
        this.projectDir = path.join(dir, "project");
        this.backendDir = path.join(dir, "backend");
        this.home = path.join(dir, "home");
        for (const d of [this.projectDir, this.backendDir, this.home]) fs.mkdirSync(d, { recursive: true });
        for (const [f, text] of Object.entries(own)) fs.writeFileSync(path.join(this.projectDir, f), text);
        for (const f of LINKED.filter((x) => !(x in own))) {
            const link = path.join(this.projectDir, f);
            if (!fs.existsSync(link)) fs.symlinkSync(path.join(REPO_ROOT, f), link);
        }
    }

    /** The checkpoint the file backend keeps for `stack`. */
    stateFile(stack: string): string {
        return path.join(this.backendDir, ".pulumi", "stacks", this.project, `${stack}.json`);
    }

    configFile(stack: string): string {
        return path.join(this.projectDir, `Pulumi.${stack}.yaml`);
    }

    /** The environment of every CLI call: offline, this backend and home, the engine first on PATH. */
    env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
        const { bin, plugins } = engineDirs();
        return {
            ...process.env,
            ...offlineEnv(),
            PATH: [bin, plugins, process.env.PATH].join(path.delimiter),
            PULUMI_HOME: this.home,
            PULUMI_BACKEND_URL: `file://${this.backendDir}`,
            PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE,
            ...extra,
        };
    }

    /** `pulumi <args>` in the project directory. */
    pulumi(args: string[], o: CallOptions = {}): Promise<CliResult> {
        return runPulumi(args, { ...o, cwd: this.projectDir, env: this.env(o.env) });
    }

    /** Like `pulumi`, but a non-zero exit throws with what the CLI printed. */
    async must(args: string[], o: CallOptions = {}): Promise<string> {
        const r = await this.pulumi(args, o);
        if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} failed (exit ${r.code}):\n${r.stderr}\n${r.stdout.slice(-4000)}`);
        return r.stdout;
    }

    /** Creates `stack` on first use (its config file then holds the passphrase's salt). */
    async ensureStack(stack: string): Promise<void> {
        if (fs.existsSync(this.stateFile(stack))) return;
        await this.must(["stack", "init", stack, "--non-interactive"]);
    }

    /**
     * Writes the stack's config file: `config` under the project's namespace, the
     * `secretKeys` among them encrypted by the CLI itself (`config set --secret`,
     * the value on stdin), the passphrase's salt kept.
     */
    async writeConfig(stack: string, config: Record<string, string>, secretKeys: string[] = []): Promise<void> {
        await this.ensureStack(stack);
        const file = this.configFile(stack);
        const doc = (fs.existsSync(file) ? YAML.parse(fs.readFileSync(file, "utf8")) : null) ?? {};
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(config)) {
            if (!secretKeys.includes(k)) {
                out[`${this.project}:${k}`] = v;
                continue;
            }
            const id = `${stack}\0${v}`;
            if (!this.sealed.has(id)) {
                await this.must(["config", "set", "--secret", k, "--stack", stack], { input: v });
                this.sealed.set(id, YAML.parse(fs.readFileSync(file, "utf8")).config[`${this.project}:${k}`].secure);
            }
            out[`${this.project}:${k}`] = { secure: this.sealed.get(id) };
        }
        fs.writeFileSync(file, YAML.stringify({ ...(doc.encryptionsalt ? { encryptionsalt: doc.encryptionsalt } : {}), config: out }));
    }
}
