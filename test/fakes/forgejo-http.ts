/**
 * What a route of the fake Forgejo is given and answers: the request's context
 * (`Ctx`: params, query, JSON body, the authenticated doer), the answer
 * (`Answer`: status and JSON body) and the helpers that build one (`json`,
 * Forgejo's `{ message, url }` error body with `fail`, a `page` of a list).
 * Also `forgeStatus`, which tests use to read a client call's status.
 * Imports nothing of the fake at run time, so the route files import it freely.
 */
import type * as http from "http";
import { ForgeError } from "../../providers/forge/client";
import type { FakeUser } from "./forgejo-model";

export interface Ctx {
    req: http.IncomingMessage;
    params: Record<string, string>;
    query: URLSearchParams;
    body: any;
    doer?: FakeUser;
    basic: boolean;
}

export interface Answer {
    status: number;
    body?: unknown;
    /** A redirect's target (the web UI's answers, outside the API). */
    location?: string;
}

export type Handler = (ctx: Ctx) => Answer;

/** A route's statuses, as `ROUTES` lists them (checked against the swagger). */
export type RouteStatuses = { route: string; statuses: number[]; undocumented?: Array<[number, string]> };

export function json(status: number, body: unknown): Answer {
    return { status, body };
}

/** Forgejo's error body: `{ message, url }`. */
export function fail(status: number, message: string, url: string): Answer {
    return { status, body: { message, url: `${url}/api/swagger` } };
}

/** One page of `all`, from the `page` and `limit` query parameters (30 a page by default). */
export function page<T>(ctx: Ctx, all: T[]): T[] {
    const limit = Math.max(1, Number(ctx.query.get("limit") ?? 30));
    const n = Math.max(1, Number(ctx.query.get("page") ?? 1));
    return all.slice((n - 1) * limit, n * limit);
}

/** A client call's HTTP status and Forgejo's message, whether it succeeded or threw a ForgeError. */
export async function forgeStatus(p: Promise<{ status: number }>): Promise<{ status: number; message: string }> {
    try {
        return { status: (await p).status, message: "" };
    } catch (err) {
        if (err instanceof ForgeError) return { status: err.status, message: err.forgeMessage };
        throw err;
    }
}
