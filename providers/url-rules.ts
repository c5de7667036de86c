/**
 * Where a token may be sent: the one rule for the service URLs (forgeUrl,
 * computeUrl), so that no code path sends a credential in clear text to a host
 * off this machine. Pure functions: no network, no Pulumi runtime.
 */

/** A loopback host as a URL spells it: `localhost`, `127.x.x.x` or `[::1]`. */
export function isLoopbackHost(hostname: string): boolean {
    return /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i.test(hostname);
}

/**
 * Why `raw` is not a URL a token may travel to, or undefined when it is: `https://`,
 * plain `http://` on a loopback host only, and `unix://` when `unix` is allowed.
 * `what` names the setting in the message, e.g. "config hero-os-grid-deployer:computeUrl".
 */
export function insecureUrlProblem(raw: string, what: string, opts: { unix: boolean }): string | undefined {
    let url: URL;
    try {
        url = new URL(raw);
    } catch {
        return `${what} is not a URL: ${JSON.stringify(raw)}`;
    }
    if (url.protocol === "https:") return undefined;
    if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return undefined;
    if (url.protocol === "unix:" && opts.unix) return undefined;
    const allowed = opts.unix ? "https://, unix:// or http:// on a loopback host (localhost, 127.0.0.1, [::1])" : "https:// (plain http only for loopback hosts)";
    return `${what} must use ${allowed}, not "${url.protocol}//${url.host}": the token would travel in clear text`;
}
