import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        include: ["test/**/*.test.ts"],
        testTimeout: 60_000,
        hookTimeout: 60_000,
        // Tests that start sshd, the dynamic-provider host or fakes on port 0
        // are independent, but the CI machine has 2 cores.
        maxWorkers: 2,
    },
});
