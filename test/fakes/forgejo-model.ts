/**
 * The fake Forgejo's state, as plain data that tests seed and inspect: users,
 * access tokens, repositories with their files and collaborators, and
 * organizations. Also `blob` (a file with its git blob SHA) and the names
 * Forgejo reserves in the namespace users and organizations share.
 */
import { createHash } from "crypto";

export interface FakeUser {
    id: number;
    login: string;
    email: string;
    full_name: string;
    description: string;
    password: string;
    must_change_password: boolean;
    is_admin: boolean;
    source_id: number;
    login_name: string;
    visibility: string;
    created: string;
}

export interface FakeToken {
    id: number;
    userId: number;
    name: string;
    sha1: string;
    scopes: string[];
}

export interface FakeRepo {
    id: number;
    owner: string;
    name: string;
    private: boolean;
    description: string;
    default_branch: string;
    /** No commit yet: the contents API answers 404 until a file is created. */
    empty: boolean;
    /** login (lowercase) → permission */
    collaborators: Map<string, "read" | "write" | "admin">;
    /** Path → content on the default branch. */
    files: Map<string, FakeFile>;
}

export interface FakeFile {
    content: Buffer;
    /** The git blob SHA-1 of `content`, as Forgejo reports it. */
    sha: string;
}

/** An organization: in Forgejo a user of type "organization", sharing the users' namespace. */
export interface FakeOrg {
    id: number;
    name: string;
    full_name: string;
    description: string;
    visibility: "public" | "limited" | "private";
    /** Logins (lowercase) in the Owners team; the creator is put there. */
    owners: Set<string>;
}

/** Names no user or organization may take. */
export const RESERVED = new Set(["admin", "api", "assets", "explore", "issues", "login", "new", "org", "repo", "user", "users", "-", "."]);

/** A file with its git blob SHA-1 (`sha1("blob <size>\0" + content)`), as git and Forgejo name it. */
export function blob(content: Buffer): FakeFile {
    const sha = createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
    return { content, sha };
}
