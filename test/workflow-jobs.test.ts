/**
 * What each job of the workflow twins does, as docs/workflows.md promises: validate
 * with no secrets before the preview and the update, a preview with no Forge or
 * Hero Compute token, `up` on pushes, and the daily run (up, status, audit, the
 * issue) in the same concurrency group as the push's `up`.
 */
import { execFileSync } from "child_process";
import { describe, expect, it } from "vitest";
import { FORGEJO, GITHUB, globToRegExp, isPulumiAction, job, pulumiSteps, read, REPO, workflow, type Job } from "./support/workflows";

/** Tracked files that do not change what `pulumi up` deploys. */
const NOT_DEPLOYED = [/^test\//, /^scripts\//, /^\.ci\//, /^\.github\//, /^\.forgejo\//, /^docs\//, /\.md$/, /^\.gitignore$/, /^vitest\.config\.[cm]?ts$/, /^LICENSE/];
const BACKEND = ["PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"];
/** Everything that reaches the Forge or Hero Compute as an admin. */
const SERVICE_TOKENS = /FORGE_TOKEN|COMPUTE_TOKEN|forgeToken|computeToken/;

const jobText = (j: Job) => JSON.stringify(j);
const stepIndex = (j: Job, test: (s: Job["steps"][number]) => boolean) => j.steps.findIndex(test);

describe.each([
    ["GitHub", GITHUB],
    ["Forgejo", FORGEJO],
])("the %s workflow", (_name, file) => {
    const wf = workflow(file);

    it("previews pull requests to main and runs up on pushes to main, for the same paths; daily and on demand", () => {
        expect(wf.on.pull_request.branches).toEqual(["main"]);
        expect(wf.on.push.branches).toEqual(["main"]);
        expect(wf.on.push.paths).toEqual(wf.on.pull_request.paths);
        expect(wf.on.pull_request.paths).toEqual(expect.arrayContaining(["users/**", "index.ts", "components/**", "providers/**", file]));
        expect(wf.on.schedule).toEqual([{ cron: "17 5 * * *" }]);
        expect(wf.on).toHaveProperty("workflow_dispatch");
    });

    it("regression: a deployable file outside the paths filter would never be previewed; every tracked file that feeds `pulumi up` is inside it", () => {
        const tracked = execFileSync("git", ["ls-files"], { cwd: REPO, encoding: "utf8" }).split("\n").filter(Boolean);
        const patterns = wf.on.pull_request.paths.map(globToRegExp);
        const missed = tracked.filter((f) => !NOT_DEPLOYED.some((re) => re.test(f)) && !patterns.some((re) => re.test(f)));
        expect(missed, `add these to the paths of ${file} (and its twin), or to NOT_DEPLOYED in this test`).toEqual([]);
    });

    it("every job sets up Node 20 and runs npm ci before any pulumi or npm run step", () => {
        for (const [id, j] of Object.entries(wf.jobs)) {
            const node = stepIndex(j, (s) => /(^|\/)actions\/setup-node@/.test(s.uses ?? ""));
            const ci = stepIndex(j, (s) => s.run === "npm ci");
            const first = stepIndex(j, (s) => /pulumi/.test(s.uses ?? "") || /pulumi |npm run/.test(s.run ?? ""));
            expect(j.steps[node]?.with?.["node-version"], id).toBe(20);
            expect(ci, id).toBeGreaterThan(node);
            expect(first, id).toBeGreaterThan(ci);
        }
    });

    it("validates the users file in a job of its own, with no secret and no Pulumi CLI, before the preview and the update", () => {
        const v = job(wf, "validate");
        expect(v.if).toBe("github.event_name == 'pull_request' || github.event_name == 'push'");
        expect(v.steps.map((s) => s.run).filter(Boolean)).toEqual(["npm ci", 'npm run validate -- --stack "$PULUMI_STACK"']);
        expect(jobText(v)).not.toMatch(/secrets\.|pulumi\//);
        expect(Object.keys(wf.env)).toEqual(["PULUMI_STACK"]);
        expect(job(wf, "preview").needs).toBe("validate");
        expect(job(wf, "up").needs).toBe("validate");
    });

    it("least privilege: the preview job gets the backend's secrets only, no Forge or Hero Compute token, and posts one PR comment edited in place", () => {
        const p = job(wf, "preview");
        expect(p.if).toBe("github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name == github.repository");
        expect(Object.keys(p.env ?? {}).sort()).toEqual([...BACKEND].sort());
        expect(jobText(p)).not.toMatch(SERVICE_TOKENS);
        expect(p.steps.some((s) => /pulumi config set/.test(s.run ?? ""))).toBe(false);
        const [preview] = pulumiSteps(wf, "preview");
        expect(preview.job).toBe("preview");
        expect(preview.step.with).toMatchObject({ diff: true, "comment-on-pr": true, "edit-pr-comment": true, "stack-name": "${{ env.PULUMI_STACK }}" });
        if (file === GITHUB) expect(p.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    });

    it("runs `pulumi up` on pushes, with the tokens set through stdin first", () => {
        const up = job(wf, "up");
        expect(up.if).toBe("github.event_name == 'push'");
        const steps = pulumiSteps(wf, "up");
        expect(steps.map((s) => s.job)).toEqual(["up"]);
        expect(steps[0].step.with?.["stack-name"]).toBe("${{ env.PULUMI_STACK }}");
        // As npm run deploy: 32 operations at once, not the CLI's 4 per CPU (8 VMs at once on a 2-CPU runner).
        expect(steps[0].step.with?.parallel).toBe(32);
        expect(stepIndex(up, (s) => s.env?.FORGE_TOKEN !== undefined)).toBeLessThan(up.steps.indexOf(steps[0].step));
    });

    it("the daily run: names who goes (validate), then pulumi up, status and audit, each recorded, and always reports to the issue", () => {
        const d = job(wf, "daily");
        expect(d.if).toBe("github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'");
        const ids = d.steps.filter((s) => s.id).map((s) => [s.id, s.run?.split("\n").find((l) => /npm run|pulumi up/.test(l))?.trim()]);
        expect(ids).toEqual([
            ["validate", 'npm run validate -- --stack "$PULUMI_STACK"'],
            ["up", 'pulumi up --yes --non-interactive --suppress-outputs --color never --parallel 32 --stack "$PULUMI_STACK"'],
            ["status", 'npm run --silent status -- --stack "$PULUMI_STACK" --json | tee daily/status.json'],
            ["audit", 'npm run --silent audit -- --stack "$PULUMI_STACK" --json | tee daily/audit.json'],
        ]);
        for (const s of d.steps.filter((x) => x.id)) expect(s["continue-on-error"], s.id).toBe(true);
        expect(d.steps.find((s) => s.id === "up")?.if).toBe("steps.validate.outcome == 'success'");
        const report = d.steps.at(-1)!;
        expect(report.if).toBe("always()");
        expect(report.run).toBe('npm run --silent daily-issue -- --stack "$PULUMI_STACK" --status daily/status.json --audit daily/audit.json');
        expect(report.env).toMatchObject({
            ISSUE_TOKEN: "${{ secrets.GITHUB_TOKEN }}",
            ISSUE_API_URL: "${{ github.api_url }}",
            ISSUE_REPOSITORY: "${{ github.repository }}",
            VALIDATE_OUTCOME: "${{ steps.validate.outcome }}",
            UP_OUTCOME: "${{ steps.up.outcome }}",
            STATUS_OUTCOME: "${{ steps.status.outcome }}",
            AUDIT_OUTCOME: "${{ steps.audit.outcome }}",
        });
        if (file === GITHUB) expect(d.permissions).toEqual({ contents: "read", issues: "write" });
    });

    it("installs a Pulumi CLI no older than the SDK in package.json, the same everywhere", () => {
        const sdk = (JSON.parse(read("package.json")) as { dependencies: Record<string, string> }).dependencies["@pulumi/pulumi"];
        const versions = Object.values(wf.jobs).flatMap((j) => j.steps.filter(isPulumiAction).map((s) => s.with?.["pulumi-version"]));
        expect(versions).toHaveLength(4);
        expect(new Set(versions)).toEqual(new Set([`^${sdk}`]));
    });

    it("takes every credential from the CI secret store, passes secrets to scripts only through env, and sets stack secrets through stdin", () => {
        for (const id of ["preview", "up", "daily"]) {
            const j = job(wf, id);
            expect(j.env?.PULUMI_BACKEND_URL, id).toBe("${{ vars.PULUMI_BACKEND_URL || secrets.PULUMI_BACKEND_URL }}");
            for (const key of ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) expect(j.env?.[key], `${id} ${key}`).toBe(`\${{ secrets.${key} }}`);
        }
        for (const id of ["up", "daily"]) {
            const secretsStep = job(wf, id).steps.find((s) => s.env?.FORGE_TOKEN !== undefined);
            expect(secretsStep?.env).toEqual({ FORGE_TOKEN: "${{ secrets.FORGE_TOKEN }}", COMPUTE_TOKEN: "${{ secrets.COMPUTE_TOKEN }}" });
            expect(secretsStep?.run).toContain(`printf '%s' "$FORGE_TOKEN" | pulumi config set --secret forgeToken`);
            expect(secretsStep?.run).toContain(`printf '%s' "$COMPUTE_TOKEN" | pulumi config set --secret computeToken`);
        }
        for (const j of Object.values(wf.jobs)) for (const s of j.steps) expect(s.run ?? "", `step "${s.name}"`).not.toMatch(/\$\{\{/);
        // Stack outputs include the credentials record: never echoed in the log.
        for (const { step } of [...pulumiSteps(wf, "preview"), ...pulumiSteps(wf, "up")]) expect(step.with?.["suppress-outputs"]).toBe(true);
        expect(job(wf, "daily").steps.find((s) => s.id === "up")?.run).toContain("--suppress-outputs");
    });
});

describe("concurrency (GitHub; Forgejo relies on the stack lock)", () => {
    const c = workflow(GITHUB).concurrency!;
    /** The group for an event, evaluating the one expression the group uses. */
    const group = (event: string, ref: string) => c.group.replace("${{ vars.PULUMI_STACK || 'dev' }}", "dev").replace("${{ github.event_name == 'pull_request' && github.ref || 'up' }}", event === "pull_request" ? ref : "up");

    it("puts the push's up and the daily run in one group, never cancelled; each pull request in its own, cancelled by a newer push", () => {
        expect(group("push", "refs/heads/main")).toBe("pulumi-dev-up");
        expect(group("schedule", "refs/heads/main")).toBe("pulumi-dev-up");
        expect(group("workflow_dispatch", "refs/heads/main")).toBe("pulumi-dev-up");
        expect(group("pull_request", "refs/pull/7/merge")).toBe("pulumi-dev-refs/pull/7/merge");
        expect(c["cancel-in-progress"]).toBe("${{ github.event_name == 'pull_request' }}");
    });
});
