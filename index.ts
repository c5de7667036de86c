/**
 * Hero OS Grid Deployer: one Hero OS demo environment per user in the users file.
 * Reads the stack config, loads and validates the users file (a bad file stops
 * here, before any resource is registered), builds one DemoEnvironment per user
 * and exports what admins hand out.
 */
import * as pulumi from "@pulumi/pulumi";
import { DemoEnvironment } from "./components/environment";
import { loadUsersForStack } from "./components/program";
import { readSettings } from "./components/settings";

const settings = readSettings();
const users = loadUsersForStack(settings);
const envs = users.map((user) => new DemoEnvironment(user.username.toLowerCase(), { user, settings }));

/** Per user: URLs, logins, VM and gateway records. Not secret. */
export const environments = Object.fromEntries(envs.map((e) => [e.username, e.summary]));
/** Per user: password, SSH private key and Forge token. Secret. */
export const credentials = pulumi.secret(Object.fromEntries(envs.map((e) => [e.username, e.credentials])));
