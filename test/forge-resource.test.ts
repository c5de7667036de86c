/**
 * The ForgeAccount resource class under Pulumi mocks: its type token, its
 * declared outputs, and that secrets are listed for the engine.
 */
import { describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";

const registered: pulumi.runtime.MockResourceArgs[] = [];
pulumi.runtime.setMocks(
    {
        newResource: (args) => {
            registered.push(args);
            return { id: `${args.name}-id`, state: { ...args.inputs, login: args.inputs.username, createdByTool: true, tokenId: 7 } };
        },
        call: (args) => {
            throw new Error(`unexpected call ${args.token}`);
        },
    },
    "hero-os-grid-deployer",
    "test",
    false,
);

function unwrap<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply(resolve));
}

describe("ForgeAccount", () => {
    it("registers as pulumi-nodejs:dynamic/hero:ForgeAccount with its declared outputs readable", async () => {
        const { ForgeAccount } = await import("../providers/forge/account");
        const acct = new ForgeAccount("alice-forge-account", {
            username: "alice",
            email: "alice@demo.test",
            fullName: "Alice",
            password: pulumi.secret("pw-123456789"),
            feedbackRepo: "lhumina_public/feedback",
            stack: "organization/hero-os-grid-deployer/test",
            stackId: "0123abcd",
        });
        expect(await unwrap(acct.login)).toBe("alice");
        expect(await unwrap(acct.createdByTool)).toBe(true);
        expect(await unwrap(acct.tokenId)).toBe(7);
        const reg = registered.find((r) => r.name === "alice-forge-account")!;
        expect(reg.type).toBe("pulumi-nodejs:dynamic/hero:ForgeAccount");
        expect(Object.keys(reg.inputs)).toEqual(expect.arrayContaining(["username", "email", "fullName", "password", "feedbackRepo", "__provider"]));
        expect(reg.inputs.__provider).toContain('require("hero-os-grid-deployer-shims/v1/forge-account.js")');
    });
});
