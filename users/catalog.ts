/**
 * The service catalog: every Hero OS service a demo VM can run, in one place.
 *
 * Core services are always on. Optional ones are chosen per user in the users
 * file. Memory figures are planning estimates (resident set under demo load),
 * used to refuse selections that cannot fit the user's VM.
 *
 * What `lab` installs and what Hero Proc runs for each entry lives in
 * `components/hero-cli.ts`, keyed by these names.
 */

export const CORE_SERVICES = ["proc", "router", "proxy", "cockpit", "embedder", "books"] as const;
export const OPTIONAL_SERVICES = ["slides", "whiteboard", "callup", "agents", "voice"] as const;

export type CoreService = (typeof CORE_SERVICES)[number];
export type OptionalService = (typeof OPTIONAL_SERVICES)[number];
export type ServiceName = CoreService | OptionalService;

export interface ServiceSpec {
    /** One line for previews and the cockpit. */
    readonly description: string;
    /** Planning estimate of resident memory, in MB. */
    readonly memoryMb: number;
}

export const CATALOG: Readonly<Record<ServiceName, ServiceSpec>> = {
    proc: { description: "Hero Proc, the service manager", memoryMb: 64 },
    router: { description: "Hero Router, the local RPC and web router (port 9988)", memoryMb: 64 },
    proxy: { description: "Hero Proxy, the authenticated front door", memoryMb: 128 },
    cockpit: { description: "Hero Cockpit, the user's home page and settings", memoryMb: 128 },
    embedder: { description: "the embedder, pinned to its small model profile", memoryMb: 1024 },
    books: { description: "Books, with the public demo collection", memoryMb: 512 },
    slides: { description: "Slides", memoryMb: 256 },
    whiteboard: { description: "Whiteboard", memoryMb: 256 },
    callup: { description: "Call-up, video calls", memoryMb: 512 },
    agents: { description: "Agents (bring your own AI key)", memoryMb: 1024 },
    voice: { description: "Voice integration (bring your own AI key)", memoryMb: 1024 },
};

/** The embedder's model profile. The large one does not fit an 8 GB demo VM. */
export const EMBEDDER_PROFILE = "small";

/** Memory kept free for the OS, page cache and sshd, in MB. */
export const OS_HEADROOM_MB = 1536;

/** Services that exist but are not offered, with the reason an admin is shown. */
export const REFUSED_SERVICES: Readonly<Record<string, string>> = {
    office: "too heavy for an 8 GB demo VM unless hosted elsewhere",
};

export function isServiceName(name: string): name is ServiceName {
    return Object.prototype.hasOwnProperty.call(CATALOG, name);
}

/**
 * The full, ordered service list for a user: core services first, then the
 * chosen optional ones in catalog order, without duplicates.
 */
export function resolveServices(chosen: readonly ServiceName[]): ServiceName[] {
    const wanted = new Set<ServiceName>(chosen);
    return [...CORE_SERVICES, ...OPTIONAL_SERVICES.filter((s) => wanted.has(s))];
}

/** Memory the services plus the OS headroom need, in MB. */
export function memoryNeededMb(services: readonly ServiceName[]): number {
    return services.reduce((sum, s) => sum + CATALOG[s].memoryMb, OS_HEADROOM_MB);
}
