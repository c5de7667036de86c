/**
 * A user's browser on a real Forgejo, and the OAuth2 authorization-code flow as
 * the browser and Hero Proxy run it together: what proves that a Forge login
 * (providers/forge/oauth-app.ts) lets its user in.
 */
/** A browser's cookie jar, enough for Forgejo's session and CSRF cookies. */
export class Browser {
    private readonly cookies = new Map<string, string>();
    constructor(private readonly base: string) {}

    async request(path: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ status: number; location: string; text: string }> {
        const headers: Record<string, string> = { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ") };
        if (init.form) headers["content-type"] = "application/x-www-form-urlencoded";
        const res = await fetch(path.startsWith("http") ? path : `${this.base}${path}`, {
            method: init.method ?? "GET",
            headers,
            body: init.form ? new URLSearchParams(init.form).toString() : undefined,
            redirect: "manual",
        });
        for (const c of res.headers.getSetCookie()) {
            const [pair] = c.split(";");
            const eq = pair.indexOf("=");
            this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
        }
        return { status: res.status, location: res.headers.get("location") ?? "", text: await res.text() };
    }
}

export function csrf(html: string): string {
    const m = /name="_csrf" value="([^"]+)"/.exec(html);
    if (!m) throw new Error("no _csrf field on the page");
    return m[1];
}

/**
 * The authorization-code flow as the user's browser and hero_proxy run it:
 * log in with the password, authorize (grant on first use), take the code
 * from the redirect, exchange it with the client secret. Resolves with the
 * redirect the Forge sent and the token answer.
 */
export async function forgeLoginFlow(forgeUrl: string, login: string, password: string, app: { clientId: string; clientSecret: string; redirectUri: string }) {
    const b = new Browser(forgeUrl);
    const page = await b.request("/user/login");
    const logged = await b.request("/user/login", { method: "POST", form: { _csrf: csrf(page.text), user_name: login, password } });
    if (logged.status !== 303) throw new Error(`login as ${login} answered ${logged.status}`);
    const state = `state-${Date.now()}`;
    const q = new URLSearchParams({ client_id: app.clientId, redirect_uri: app.redirectUri, response_type: "code", state });
    let auth = await b.request(`/login/oauth/authorize?${q}`);
    if (auth.status === 200 && auth.text.includes('action="/login/oauth/grant"')) {
        auth = await b.request("/login/oauth/grant", {
            method: "POST",
            form: { _csrf: csrf(auth.text), client_id: app.clientId, state, scope: "", nonce: "", redirect_uri: app.redirectUri, granted: "true" },
        });
    }
    const redirect = auth.location ? new URL(auth.location, forgeUrl) : undefined;
    const code = redirect?.searchParams.get("code") ?? "";
    const tokenRes = await fetch(`${forgeUrl}/login/oauth/access_token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "authorization_code", client_id: app.clientId, client_secret: app.clientSecret, code, redirect_uri: app.redirectUri }).toString(),
    });
    const token = (await tokenRes.json()) as { access_token?: string; error?: string };
    return { authStatus: auth.status, redirect, state: redirect?.searchParams.get("state"), tokenStatus: tokenRes.status, token };
}

/** The login `/api/v1/user` names for an OAuth2 access token. */
export async function loginOfToken(forgeUrl: string, accessToken: string): Promise<string> {
    const res = await fetch(`${forgeUrl}/api/v1/user`, { headers: { authorization: `Bearer ${accessToken}` } });
    return ((await res.json()) as { login: string }).login;
}
