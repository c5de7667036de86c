/**
 * The resource class of a demo user's Forge login: `pulumi-nodejs:dynamic/hero:ForgeLogin`,
 * an OAuth2 application on the Forge whose client Hero Proxy is. The provider is
 * providers/forge/oauth-app.ts, reached through the v1 shim `forge-login.js`.
 */
import * as pulumi from "@pulumi/pulumi";
import { SHIMS, replaceDeletesFirst } from "../shims";

export interface ForgeLoginArgs {
    /** The demo user whose front door the application serves. @example "alice" */
    username: pulumi.Input<string>;
    /** The user's gateway URL; the redirect URI is it plus Hero Proxy's callback path. @example gateway.url */
    gatewayUrl: pulumi.Input<string>;
    /** `<organization>/<project>/<stack>`, written into the application's name as its ownership marker. @example settings.identity.stack */
    stack: pulumi.Input<string>;
    /** This stack's identity hash. @example settings.identity.id */
    stackId: pulumi.Input<string>;
}

/**
 * One OAuth2 application per environment. Rotate its client secret with
 * `pulumi up --replace <urn of <username>-forge-login>` (a new application: new id and secret).
 */
export class ForgeLogin extends pulumi.dynamic.Resource {
    declare readonly appId: pulumi.Output<number>;
    declare readonly name: pulumi.Output<string>;
    declare readonly clientId: pulumi.Output<string>;
    /** Secret: Hero Proxy's half of the login. */
    declare readonly clientSecret: pulumi.Output<string>;
    declare readonly redirectUri: pulumi.Output<string>;
    /** True when the create claimed a leftover of this stack's (with proof), not a new application. */
    declare readonly claimed: pulumi.Output<boolean>;

    constructor(name: string, args: ForgeLoginArgs, opts?: pulumi.CustomResourceOptions) {
        const outs = { appId: undefined, name: undefined, clientId: undefined, clientSecret: undefined, redirectUri: undefined, claimed: undefined };
        super(SHIMS.forgeLogin, name, { ...args, ...outs }, { ...replaceDeletesFirst(opts), additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "clientSecret"] }, "hero", "ForgeLogin");
    }
}
