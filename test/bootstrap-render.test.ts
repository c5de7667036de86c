/**
 * Rendering of the bootstrap, with no engine and no SSH: the quoting function (run
 * through a real bash), validation of hostile values, the Hero Proc service definition,
 * the Hero Proxy routes, the cockpit settings, step parameters and triggers.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { DEMO_NOTICE, FORGE_TOKEN_SECRET, FRONT_DOOR_PORT, PROXY_CLIENT_SECRET, PROXY_OAUTH_CALLBACK_PATH, PROXY_SESSION_SECRET, proxyAdmits } from "../components/hero-cli";
import {
    STEPS,
    defaultEnv,
    renderAssignments,
    renderCockpitSettings,
    renderProxyRoutes,
    renderServiceDefinition,
    renderTriggers,
    shellQuote,
    stepParams,
    validateValues,
} from "../components/render";
import { bundleRemotePath, renderBundle, renderStep } from "../components/bundle";
import { resolveServices } from "../users/catalog";
import { CLIENT_ID, stepValues } from "./support/fixtures";
import { oauthRedirectUri } from "../providers/forge/oauth-app";

const HOSTILE = [
    "'",
    "it's",
    "'; touch PWNED; '",
    "$(touch PWNED)",
    "`touch PWNED`",
    "a\nb\ntouch PWNED",
    "; touch PWNED",
    "\\",
    '"$HOME"',
    "${IFS}",
    "!x",
    "*",
    "",
    "ümlaut — ✓",
    "trailing newline\n",
];

const values = stepValues;

/** Evaluates `script` in bash in a scratch directory; returns stdout and what files appeared. */
function bash(script: string): { stdout: string; files: string[] } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hb-quote-"));
    try {
        const r = spawnSync("bash", ["-s"], { input: script, cwd: dir, encoding: "utf8" });
        expect(r.status, r.stderr).toBe(0);
        return { stdout: r.stdout, files: fs.readdirSync(dir) };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("shellQuote", () => {
    for (const value of HOSTILE) {
        it(`keeps ${JSON.stringify(value)} literal through bash, running nothing`, () => {
            const { stdout, files } = bash(`v=${shellQuote(value)}\nprintf '%s' "$v"\n`);
            expect(stdout).toBe(value);
            expect(files).toEqual([]);
        });
    }

    it("refuses a NUL byte, which no shell string can hold", () => {
        expect(() => shellQuote("a\0b")).toThrow(/NUL/);
    });

    it("renderAssignments quotes every value and refuses parameter names that are not HB_*", () => {
        const { stdout, files } = bash(`${renderAssignments({ HB_A: HOSTILE[2], HB_B: HOSTILE[5] })}\nprintf '%s|%s' "$HB_A" "$HB_B"\n`);
        expect(stdout).toBe(`${HOSTILE[2]}|${HOSTILE[5]}`);
        expect(files).toEqual([]);
        expect(() => renderAssignments({ "HB_A; touch x": "v" })).toThrow(/parameter name/);
        expect(() => renderAssignments({ PATH: "/tmp" })).toThrow(/parameter name/);
    });
});

describe("validation of values that reach the scripts", () => {
    const hostile = ["al ice", "alice;id", "$(id)", "`id`", "a'b", "a\nb"];
    for (const bad of hostile) {
        it(`refuses ${JSON.stringify(bad)} as username, Forge login, repo or URL part`, () => {
            expect(() => validateValues(values({ user: { ...values().user, username: bad } }))).toThrow(/username/);
            expect(() => validateValues(values({ forgeLogin: bad }))).toThrow(/Forge login/);
            expect(() => validateValues(values({ feedbackRepo: `org/${bad}` }))).toThrow(/feedback repo/);
            expect(() => validateValues(values({ gatewayUrl: `https://x.grid.tf/${bad}` }))).toThrow(/gateway URL/);
            expect(() => validateValues(values({ booksRepo: `https://forge.example.org/${bad}.git` }))).toThrow(/books repo/);
            expect(() => validateValues(values({ host: bad }))).toThrow(/VM host/);
        });
    }

    it("regression: refuses a books repo that is not https (http:// and git:// were accepted, and root clones it)", () => {
        for (const scheme of ["http", "git", "ssh"]) {
            expect(() => validateValues(values({ booksRepo: `${scheme}://forge.example.org/o/books.git` }))).toThrow(/books repo URL \(https only\)/);
        }
    });

    it("refuses a leading dash (an option to the tool) in username, Forge login, repo and host", () => {
        expect(() => validateValues(values({ user: { ...values().user, username: "-rf" } }))).toThrow(/username/);
        expect(() => validateValues(values({ forgeLogin: "--help" }))).toThrow(/Forge login/);
        expect(() => validateValues(values({ feedbackRepo: "org/-rf" }))).toThrow(/feedback repo/);
        expect(() => validateValues(values({ host: "-oProxyCommand=x" }))).toThrow(/VM host/);
    });

    it("refuses a service that is not in the catalog and a lab channel that does not exist", () => {
        expect(() => validateValues(values({}, ["proc", "office" as never]))).toThrow(/service/);
        expect(() => validateValues(values({ labChannel: "nightly" as never }))).toThrow(/lab channel/);
    });

    for (const value of HOSTILE.filter((v) => v !== "")) {
        it(`carries full name and email ${JSON.stringify(value)} into the cockpit settings (bundle) and the token (stdin) unchanged, running nothing`, () => {
            const v = values({ user: { ...values().user, fullName: value, email: value } });
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hb-quote-"));
            try {
                // The real bundle, its hb_main swapped for a printer of what the step would see.
                const env = { ...defaultEnv(v.host, v.labChannel), root: path.join(dir, "root") };
                const bundle = renderBundle(v, env);
                const file = bundleRemotePath(env.root);
                fs.mkdirSync(path.dirname(file), { recursive: true });
                fs.writeFileSync(file, `${bundle.text}\nhb_main() { hb_params_cockpit_settings; printf '%s' "$HB_COCKPIT_SETTINGS"; printf '\\0%s' "$HB_FORGE_TOKEN"; }\n`);
                const { stdin } = renderStep("cockpit-settings", bundle, env, { forgeToken: value });
                const r = spawnSync("bash", ["-s", "--", "cockpit-settings"], { input: stdin, cwd: dir, encoding: "utf8" });
                expect(r.status, r.stderr).toBe(0);
                const [settings, token] = r.stdout.split("\0");
                expect(JSON.parse(settings).user).toEqual({ login: "alice", full_name: value, email: value });
                expect(token).toBe(value);
                expect(fs.readdirSync(dir)).toEqual(["root"]);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    }
});

describe("Hero Proc service definition", () => {
    it("core services: everything but hero_proc (the manager), in catalog order, with dependencies among them", () => {
        const def = renderServiceDefinition(resolveServices([]));
        expect(def.services.map((s) => s.name)).toEqual(["hero_router", "hero_proxy", "hero_cockpit", "hero_embedder", "hero_books"]);
        const byName = Object.fromEntries(def.services.map((s) => [s.name, s]));
        expect(byName.hero_router.depends_on).toEqual([]);
        expect(byName.hero_books.depends_on).toEqual(["hero_router", "hero_embedder"]);
        expect(byName.hero_embedder.actions[0].args).toEqual(["--profile", "small"]);
        expect(byName.hero_cockpit.actions.map((a) => a.name)).toEqual(["hero_cockpit_server", "hero_cockpit_web"]);
        for (const s of def.services) for (const a of s.actions) expect(a.exec).toMatch(/^\/root\/hero\/bin\/hero_[a-z]+_(server|web)$/);
    });

    it("optional services are added after the core ones, only when chosen", () => {
        const names = (chosen: Parameters<typeof resolveServices>[0]) => renderServiceDefinition(resolveServices(chosen)).services.map((s) => s.name);
        expect(names(["voice", "slides"])).toEqual(["hero_router", "hero_proxy", "hero_cockpit", "hero_embedder", "hero_books", "hero_slides", "hero_voice"]);
        expect(names(["agents"])).toContain("hero_agents");
        expect(names(["agents"])).not.toContain("hero_slides");
    });

    it("a deselected service leaves the definition and the list the services step starts (the step stops it; see the SSH test)", () => {
        const withSlides = stepParams("services", values(), defaultEnv("400:1234::5", "latest"));
        const without = stepParams("services", values({}, resolveServices([])), defaultEnv("400:1234::5", "latest"));
        expect(withSlides.HB_PROC_SERVICES).toMatch(/^hero_slides [0-9a-f]{12}$/m);
        expect(without.HB_PROC_SERVICES).not.toMatch(/hero_slides/);
        expect(without.HB_PROC_DEF).not.toMatch(/hero_slides/);
    });
});

describe("Hero Proxy routes", () => {
    const routerUrl = "http://127.0.0.1:9988";
    const login = { clientId: CLIENT_ID, admins: [] };
    it("lands / on Hero Cockpit, routes each enabled service through hero_router on loopback, all behind the Forge login", () => {
        const cfg = renderProxyRoutes({ services: resolveServices(["slides", "whiteboard"]), gatewayUrl: "https://devalice.gent02.grid.tf", forgeUrl: "https://forge.example.org", forgeLogin: "alice", routerUrl, login });
        expect(cfg.domain).toBe("devalice.gent02.grid.tf");
        expect(cfg.listen).toBe(`[::]:${FRONT_DOOR_PORT}`);
        expect(cfg.routes[0]).toEqual({ path: "/", redirect: "/hero_cockpit/web/", auth_mode: "oauth" });
        const paths = cfg.routes.map((r) => r.path);
        for (const web of ["/hero_cockpit/web/", "/hero_books/web/", "/hero_slides/web/", "/hero_whiteboard/web/"]) expect(paths).toContain(web);
        expect(cfg.routes.find((r) => r.path === "/hero_slides/web/")!.upstream).toBe(`${routerUrl}/hero_slides/web/`);
        expect(cfg.routes.every((r) => r.auth_mode === "oauth")).toBe(true);
    });

    it("carries the Forge login: Forgejo's endpoints, this environment's client id and redirect URI, the secrets by their Hero Proc key only", () => {
        const cfg = renderProxyRoutes({ services: resolveServices([]), gatewayUrl: "https://devalice.gent02.grid.tf/", forgeUrl: "https://forge.example.org/", forgeLogin: "alice", routerUrl, login });
        expect(cfg.auth).toEqual({
            mode: "oauth",
            provider: "forge",
            forge_url: "https://forge.example.org/",
            authorize_url: "https://forge.example.org/login/oauth/authorize",
            token_url: "https://forge.example.org/login/oauth/access_token",
            userinfo_url: "https://forge.example.org/api/v1/user",
            client_id: CLIENT_ID,
            redirect_uri: `https://devalice.gent02.grid.tf${PROXY_OAUTH_CALLBACK_PATH}`,
            client_secret_key: PROXY_CLIENT_SECRET,
            session_secret_key: PROXY_SESSION_SECRET,
            allowed_users: ["alice"],
        });
    });

    it("gives hero_proxy the redirect URI the Forge application was made with", () => {
        for (const gw of ["https://devalice.gent02.grid.tf", "https://devalice.gent02.grid.tf/"]) {
            const cfg = renderProxyRoutes({ services: resolveServices([]), gatewayUrl: gw, forgeUrl: "https://forge.example.org", forgeLogin: "alice", routerUrl, login });
            expect(cfg.auth.redirect_uri).toBe(oauthRedirectUri(gw));
        }
    });

    it("allows the user and the admins, each once whatever the case, the user first", () => {
        const cfg = renderProxyRoutes({ services: resolveServices([]), gatewayUrl: "https://a.grid.tf", forgeUrl: "https://forge.example.org", forgeLogin: "alice", routerUrl, login: { clientId: CLIENT_ID, admins: ["ana", "Alice", "ANA", "ben"] } });
        expect(cfg.auth.allowed_users).toEqual(["alice", "ana", "ben"]);
    });

    it("regression: another user of the same Forge is refused by the rule the bootstrap renders (the user, an admin and case variants pass)", () => {
        // What front-door ships, read back from the step's parameters: not a config built by hand.
        const p = stepParams("front-door", values({ login: { clientId: CLIENT_ID, admins: ["ana"] } }), defaultEnv("400:1234::5", "latest"));
        const auth = JSON.parse(p.HB_PROXY_ROUTES).auth;
        for (const login of ["alice", "Alice", "ALICE", "ana", "Ana"]) expect(proxyAdmits(auth, login), login).toBe(true);
        for (const login of ["bob", "alice2", "alic", "", " ", "ana.b", "root"]) expect(proxyAdmits(auth, login), login).toBe(false);
    });

    it("has no route for a service that is not enabled", () => {
        const cfg = renderProxyRoutes({ services: resolveServices([]), gatewayUrl: "https://a.grid.tf", forgeUrl: "https://forge.example.org", forgeLogin: "alice", routerUrl, login });
        expect(JSON.stringify(cfg)).not.toMatch(/slides|whiteboard|callup|agents|voice/);
    });

    it("locks hero_router to loopback in the services step: bound there by its definition, allowlist loopback only (no mycelium address)", () => {
        const p = stepParams("services", values(), defaultEnv("400:1234::5", "latest"));
        expect(p.HB_ROUTER_ALLOW.split("\n")).toEqual(["127.0.0.1", "::1"]);
        expect(p.HB_ROUTER_PROC).toBe("hero_router");
        const def = JSON.parse(p.HB_PROC_DEF);
        const env = (name: string) => def.services.find((s: { name: string }) => s.name === name).actions[0].env;
        expect(env("hero_router")).toEqual({ HERO_MYCELIUM_IP: "127.0.0.1" });
        expect(env("hero_proxy")).toEqual({ HERO_PROXY_LISTEN: `127.0.0.1:${FRONT_DOOR_PORT}` });
        expect(JSON.stringify(stepParams("front-door", values(), defaultEnv("400:1234::5", "latest")))).not.toContain("400:1234::5");
    });

    it("refuses a client id or an admin that is not a plain value", () => {
        expect(() => validateValues(values({ login: { clientId: "x'; id", admins: [] } }))).toThrow(/OAuth2 client id/);
        expect(() => validateValues(values({ login: { clientId: CLIENT_ID, admins: ["-rf"] } }))).toThrow(/admin Forge login/);
    });
});

describe("cockpit settings", () => {
    it("hold the feedback repo, the Forge token slot, empty BYO slots and the demo notice, and no secret", () => {
        const s = renderCockpitSettings(values());
        expect(s.notice).toBe(DEMO_NOTICE);
        expect(s.notice.toLowerCase()).toContain("this is a demo environment and data may be lost");
        expect(s.production).toBe(false);
        expect(s.feedback).toEqual({ forge_url: "https://forge.example.org", repo: "lhumina_public/feedback" });
        expect(s.forge.token_secret).toBe(FORGE_TOKEN_SECRET);
        expect(s.ai_keys.map((k) => k.provider)).toEqual(["openrouter", "groq", "sambanova"]);
        for (const k of s.ai_keys) expect(Object.keys(k).sort()).toEqual(["label", "provider", "secret"]);
    });
});

describe("steps", () => {
    const env = defaultEnv("400:1234::5", "latest");
    const bundle = renderBundle(values(), env);
    it("run a constant command; stdin carries the step, its digest and the runner, not the scripts", () => {
        for (const step of STEPS) {
            const r = renderStep(step, bundle, env, { forgeToken: "tok-123", clientSecret: `gto_${"c".repeat(40)}`, sessionSecret: "s".repeat(48) });
            expect(r.command).toBe(`bash -s -- ${step}`);
            expect(r.stdin).toContain(`HB_STEP='${step}'`);
            expect(r.stdin).toContain(`HB_DIGEST='${bundle.digests[step]}'`);
            expect(r.stdin).toContain(`. '/var/lib/hero-os-grid-deployer/bootstrap.sh'`);
            expect(r.stdin).not.toContain("hb_init()");
            expect(r.stdin.trimEnd().endsWith("} </dev/null")).toBe(true);
            expect(Buffer.byteLength(r.stdin), step).toBeLessThan(400);
        }
    });

    it("carry the Forge token only in cockpit-settings' stdin and the login's secrets only in front-door's, never in the bundle", () => {
        const secrets = { forgeToken: "tok-123", clientSecret: "gto_client-secret-456", sessionSecret: "session-secret-789" };
        for (const step of STEPS) {
            const r = renderStep(step, bundle, env, secrets);
            expect(r.stdin.includes("tok-123"), step).toBe(step === "cockpit-settings");
            expect(r.stdin.includes("gto_client-secret-456"), step).toBe(step === "front-door");
            expect(r.stdin.includes("session-secret-789"), step).toBe(step === "front-door");
        }
        for (const secret of Object.values(secrets)) expect(bundle.text).not.toContain(secret);
        for (const name of ["HB_FORGE_TOKEN=", "HB_CLIENT_SECRET=", "HB_SESSION_SECRET="]) expect(bundle.text).not.toContain(name);
    });

    it("point hero_router at loopback, where it is bound for good", () => {
        expect(env.routerUrl).toBe("http://127.0.0.1:9988");
        expect(defaultEnv("10.0.0.2", "latest").routerUrl).toBe("http://127.0.0.1:9988");
    });

    it("do not carry values a step does not use, so their change does not re-run it", () => {
        const a = renderBundle(values(), env);
        const b = renderBundle(values({ gatewayUrl: "https://other.grid.tf", booksRepo: "https://forge.example.org/x/y.git", feedbackRepo: "x/y" }), env);
        for (const step of STEPS) {
            const same = renderStep(step, a, env).stdin === renderStep(step, b, env).stdin;
            expect(same, step).toBe(["ready", "install", "services"].includes(step));
        }
        expect(a.sha).not.toBe(b.sha);
    });

    it("a changed parameter changes only its step's digest; the bundle holds every step's parameters and script", () => {
        const a = renderBundle(values(), env);
        const b = renderBundle(values({ booksRepo: "https://forge.example.org/x/y.git" }), env);
        expect(STEPS.filter((s) => a.digests[s] !== b.digests[s])).toEqual(["books"]);
        for (const step of STEPS) {
            expect(a.text).toContain(`hb_params_${step.replace(/-/g, "_")}() {`);
            expect(a.text).toContain(`hb_step_${step.replace(/-/g, "_")}() {`);
        }
        expect(a.text).toContain(renderAssignments(stepParams("services", values(), env)));
    });
});

describe("triggers", () => {
    const base = { host: "400:1234::5", labChannel: "latest" as "latest" | "latest-dev", services: resolveServices(["slides"]), gatewayUrl: "https://a.grid.tf", forgeUrl: "https://forge.example.org", forgeLogin: "alice", feedbackRepo: "o/feedback", booksRepo: "https://forge.example.org/o/books.git", vm: "http://compute#42" };
    const changed = (over: Partial<typeof base>) => {
        const a = renderTriggers(base);
        const b = renderTriggers({ ...base, ...over });
        return STEPS.filter((s) => JSON.stringify(a[s]) !== JSON.stringify(b[s]));
    };
    it("a change re-runs the step it affects and every later step, never an earlier one", () => {
        expect(changed({ host: "400:1234::6" })).toEqual([...STEPS]);
        // regression: a VM replaced at the same address (and host key) was left unbootstrapped
        expect(changed({ vm: "http://compute#43" })).toEqual([...STEPS]);
        expect(changed({ labChannel: "latest-dev" })).toEqual(STEPS.slice(1));
        expect(changed({ services: resolveServices([]) })).toEqual(STEPS.slice(2));
        expect(changed({ forgeLogin: "bob" })).toEqual(STEPS.slice(3));
        expect(changed({ feedbackRepo: "o/other" })).toEqual(STEPS.slice(4));
        expect(changed({ booksRepo: "https://forge.example.org/o/other.git" })).toEqual(STEPS.slice(5));
    });

    it("include each step's script digest and, from the second step on, a digest of the step before", () => {
        const t = renderTriggers(base);
        for (const [i, step] of STEPS.entries()) {
            expect(t[step].filter((x) => new RegExp(`^${step}\\.sh=[0-9a-f]{12}$`).test(x)), step).toHaveLength(1);
            expect(t[step].filter((x) => /^after=[0-9a-f]{12}$/.test(x)), step).toHaveLength(i === 0 ? 0 : 1);
        }
        // Each step keeps only its own values: the chain stays short.
        expect(JSON.stringify(t.health).length).toBeLessThan(80);
    });
});
