/**
 * Hero OS Grid Deployer: one Hero OS demo environment per user in the users file.
 * Reads the stack config, loads and validates the users file (a bad file stops
 * here, before any resource is registered), checks Hero Compute's contract during
 * `pulumi up`, builds one DemoEnvironment per user and exports what admins hand out.
 */
import * as pulumi from "@pulumi/pulumi";
import { DemoEnvironment } from "./components/environment";
import { buildEach, loadUsersForStack, preflightCompute } from "./components/program";
import { readSettings } from "./components/settings";
import { FeedbackHub } from "./providers/forge/feedback-hub";

export = async () => {
    const settings = readSettings();
    const users = await loadUsersForStack(settings);
    await preflightCompute(settings, users.length);
    // Once per stack: the Forge org and public repo where every user's feedback lands.
    const hub = new FeedbackHub("feedback-hub", { repo: settings.feedbackRepo, stack: settings.identity.stack, stackId: settings.identity.id });
    const envs = await buildEach(users, (user) => new DemoEnvironment(user.username.toLowerCase(), { user, settings, accountDependsOn: [hub] }));
    return {
        /** Who this stack is on the shared Forge and Hero Compute, and the prefix of its grid names. */
        stack: { ...settings.identity, namePrefix: settings.namePrefix },
        /** The feedback repo and what this tool created of it. */
        feedbackHub: { url: hub.repoUrl, orgCreatedByTool: hub.orgCreatedByTool, repoCreatedByTool: hub.repoCreatedByTool, customizedTemplates: hub.customizedTemplates },
        /** Per user: URLs, logins, VM and gateway records. Not secret. */
        environments: Object.fromEntries(envs.map((e) => [e.username, e.summary])),
        /** Per user: password, SSH private key and Forge token. Secret. */
        credentials: pulumi.secret(Object.fromEntries(envs.map((e) => [e.username, e.credentials]))),
    };
};
