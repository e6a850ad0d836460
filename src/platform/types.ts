/**
 * Wire types of the Tensorlake contract (docs/protocol.md), as the action sees them after
 * validation at the point they enter (see validate.ts). Field names are the wire names.
 */

export type JsonObject = Record<string, unknown>;

/** §3 template object; every field optional on the wire, unknown fields kept. */
export interface Template extends JsonObject {
  id?: string;
  name?: string;
  snapshotId?: string;
  snapshotSandboxId?: string;
  snapshotUri?: string;
  snapshotFormatVersion?: string;
  snapshotSizeBytes?: number;
  rootfsDiskBytes?: number;
  rootfsNodeKind?: string;
  public?: boolean;
}

/** §3 local-image entry built from a resolved template. */
export interface LocalImageEntry {
  templateId: string;
  name: string;
  reference: string;
  snapshotId: string;
  public: boolean;
}

export type RootfsNodeKind = 'base' | 'diff';

/** §4.1 prepare body. */
export interface PrepareRequest {
  name: string;
  dockerfile: string;
  baseImage: string;
  public: boolean;
  rootfsNodeKind: RootfsNodeKind;
  parentTemplate: LocalImageEntry | null;
  additionalLocalImages: LocalImageEntry[];
  rootfsFormat?: 'cas-streaming';
}

/** §4.2 prepared build (validated fields) plus the raw object that becomes spec.json. */
export interface PreparedBuild {
  buildId: string;
  snapshotId: string;
  snapshotUri?: string;
  rootfsNodeKind: string;
  rootfsFormat?: string;
  builder: { image: string; command: string; cpus: number; memoryMb: number; diskMb: number };
  parent?: { parentManifestUri: string; rootfsDiskBytes?: number } | null;
  snapshotRelPath?: string;
  raw: JsonObject;
}

/** §8/§9.1 complete body. */
export interface CompleteRequest {
  snapshotId: string;
  snapshotUri: string;
  snapshotFormatVersion: string;
  snapshotSizeBytes: number;
  rootfsDiskBytes: number;
  rootfsNodeKind: string;
  parentManifestUri?: string;
  rootfsFormat?: 'cas-streaming';
}

/** §9.1 complete answer: the HTTP status and the JSON body (a template, or {status:"ingesting"}). */
export interface CompleteResponse {
  httpStatus: number;
  body: JsonObject;
}

/** §9.2 build status as polled. */
export interface BuildStatus {
  status?: string;
  template?: Template;
  error?: string;
  raw: JsonObject;
}

/** §5.1 sandbox create body (snake_case; absent options omitted). */
export interface SandboxCreateRequest {
  image: string;
  resources: { cpus?: number; memory_mb?: number; disk_mb?: number };
  timeout_secs: number;
  /** Not sent by the reference client; this action names its builder sandboxes so that an
   * ambiguous create can be found again and deleted (see README, "Departures"). */
  name?: string;
}

/** §5.1 create answer. */
export interface SandboxCreated {
  sandbox_id: string;
  status: string;
  sandbox_url?: string;
  routing_hint?: string;
  name?: string;
  reason?: string;
  /** set by the client: the create was ambiguous and this sandbox was found again by name */
  reconciled?: boolean;
}

/** §5.2 SandboxInfo (the fields the action reads). */
export interface SandboxInfo {
  sandbox_id: string;
  namespace: string;
  status: string;
  sandbox_url?: string;
  routing_hint?: string;
  name?: string;
  termination_reason?: string;
  raw: JsonObject;
}

/** §6.2 process start payload. */
export interface ProcessStartPayload {
  command: string;
  args: string[];
  env?: Record<string, string>;
  working_dir?: string;
  user?: 'root';
}

/** §6.1 ProcessInfo (validated). */
export interface ProcessInfo {
  pid: number;
  status: string;
  command: string;
  args: string[];
  exit_code?: number;
  signal?: number;
  oom_killed: boolean;
  /** managed.last_exit.oom_killed when present */
  managed_oom_killed?: boolean;
}

/** §6.2 output event of a follow stream. */
export interface OutputEvent {
  line: string;
  stream: 'stdout' | 'stderr';
  timestamp?: unknown;
}

/** §10.1 events of POST /api/v1/processes/run. */
export type RunEvent =
  | { type: 'started'; pid: number }
  | { type: 'output'; line: string; stream: 'stdout' | 'stderr' }
  | { type: 'exited'; exit_code?: number; signal?: number; oom_killed: boolean };

/** §6.2 outcome of a remote command. */
export interface CommandResult {
  pid: number;
  /** exit code per §6.2 terminal-status rules (negative signal for signalled/OOM processes) */
  exitCode: number;
  oomKilled: boolean;
}
