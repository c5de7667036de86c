/**
 * Test fixtures shared by several files: one demo user's step values, a Forge
 * account's inputs, and the config object a dynamic provider's configure() gets.
 */
import type { StepValues } from "../../components/render";
import { resolveServices } from "../../users/catalog";
import { stackIdentity } from "../../providers/ownership";

/** The stack the provider tests act for; OTHER_IDENTITY is a second stack on the same Forge and Hero Compute. */
export const TEST_IDENTITY = stackIdentity("organization", "hero-os-grid-deployer", "test");
export const OTHER_IDENTITY = stackIdentity("organization", "hero-os-grid-deployer", "other");

export const BOOKS_REPO = "https://forge.example.org/lhumina_public/ourworld_public.git";

/** What the bootstrap renders for alice, with `services` (default: core plus slides), on a mycelium-style host. */
export function stepValues(over: Partial<StepValues> = {}, services = resolveServices(["slides"])): StepValues {
    return {
        user: { username: "alice", fullName: "Alice Example", email: "alice@example.org", services },
        host: "400:1234::5",
        gatewayUrl: "https://devalice.gent02.grid.tf",
        forgeUrl: "https://forge.example.org",
        forgeLogin: "alice",
        feedbackRepo: "lhumina_public/feedback",
        booksRepo: BOOKS_REPO,
        labChannel: "latest",
        login: { clientId: CLIENT_ID, admins: [] },
        ...over,
    };
}

/** The client id of alice's Forge login in the fixtures (Forgejo gives a UUID). */
export const CLIENT_ID = "0b6a2c4e-1f3d-4a5b-9c7e-2d8f6a1b3c5d";

/** A ForgeAccount's inputs for `username`, with a password Forge's default policy accepts. */
export function accountInputs(username: string, feedbackRepo: string, over: Record<string, string> = {}) {
    return {
        username,
        email: `${username}@demo.test`,
        fullName: `Demo ${username}`,
        password: `generated-${username}-Password-42`,
        feedbackRepo,
        stack: TEST_IDENTITY.stack,
        stackId: TEST_IDENTITY.id,
        ...over,
    };
}

/** The `config` of a ConfigureRequest holding `values` under the project namespace. */
export function providerConfig(values: Record<string, string>) {
    const get = (k: string) => values[k.replace(/^hero-os-grid-deployer:/, "")];
    return { get, require: (k: string) => get(k) ?? "" };
}

/** The SSH host key every mock VM's host-key steps print (a real ED25519 public key; its private key was not kept). */
export const MOCK_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJxlQR6ZTNIiAbIlRU0wc8JMlXUQNIsStaqoDB/X5igR";
