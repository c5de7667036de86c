import type { OptionalService, ServiceName } from "./catalog";

/** The size of a user's VM, after defaults are applied. */
export interface VmSize {
    /** Memory in MB (the grid's unit). @default 8192 */
    memoryMb: number;
    /** Virtual CPUs, 1 to 32. @default 4 */
    cpu: number;
    /** Root filesystem size in GB. @default 50 */
    diskGb: number;
    /** Grid node to pin the VM to; the backend picks one when absent. */
    node?: number;
}

/** One validated demo user from the users file, with defaults applied. */
export interface DemoUser {
    /** Forge login, and the basis of every resource name. */
    username: string;
    email: string;
    fullName: string;
    /** Every service the VM runs: core services first, then the chosen optional ones, in catalog order. */
    services: ServiceName[];
    /** The optional services chosen, as given (after defaults). */
    optional: OptionalService[];
    /** Last day of the environment, `YYYY-MM-DD`; the environment is torn down after it. */
    expires?: string;
    /** The person's own SSH public keys, authorised on the VM beside the deployer's key. */
    sshKeys: string[];
    vm: VmSize;
    /** The VM's workload name on the grid: `<prefix><username letters and digits>`. */
    gridName: string;
    /** The web gateway name: from the users file, or the grid name. */
    gatewayName: string;
}
