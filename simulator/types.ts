/**
 * Public types of the Tensorlake platform simulator: options, fault rules and the
 * introspection state returned by `GET /_sim/state` / `handle.state()`.
 */

import type { GitHubFakeHandle, GitHubFakeOptions } from './github.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** An API key: project-scoped, introspectable (§1.3). */
export interface ApiKeyConfig {
  key: string;
  /** key id returned by introspection; default derived from the key */
  id?: string;
  organizationId: string;
  projectId: string;
}

/** A personal access token: not introspectable, scope sent in X-Forwarded-* headers (§1.2). */
export interface PatConfig {
  token: string;
  /** org/project pairs the token may act on */
  scopes: Array<{ organizationId: string; projectId: string }>;
}

/**
 * A template to pre-register. Any extra JSON fields are kept and returned by the API.
 * Without organizationId/projectId the template is visible from every scope (like a
 * public, platform-provided template).
 */
export interface TemplateSeed {
  name: string;
  id?: string;
  snapshotId?: string;
  snapshotUri?: string;
  snapshotFormatVersion?: string;
  snapshotSizeBytes?: number;
  rootfsDiskBytes?: number;
  rootfsNodeKind?: string;
  public?: boolean;
  dockerfile?: string;
  organizationId?: string;
  projectId?: string;
  [key: string]: JsonValue | undefined;
}

export type PrepareShape = 'new' | 'legacy';

export interface SimulatorOptions {
  /** TCP port, default 0 (ephemeral) */
  port?: number;
  /** listen address; loopback only ('127.0.0.1' default, 'localhost' accepted) */
  host?: string;
  /** default: [{key:'tl_sim_key_0123456789', id:'key_sim', organizationId:'org_sim', projectId:'proj_sim'}] */
  apiKeys?: ApiKeyConfig[];
  /** default: [{token:'tl_sim_pat_0123456789', scopes:[{organizationId:'org_sim', projectId:'proj_sim'}]}] */
  pats?: PatConfig[];
  /** seed templates; default: the durable base template `tensorlake/base:1` */
  templates?: TemplateSeed[];
  /** prepare response shape, default 'new' (snapshotRelPath + blob/sign) */
  prepareShape?: PrepareShape;
  /** on the new shape, also send a stale `snapshotUri` the client must NOT use (default true) */
  staleSnapshotUri?: boolean;
  /** CAS chunk size, default 65536 */
  chunkSizeBytes?: number;
  /** admission throughput, default 1 MiB/s */
  admissionBytesPerSecond?: number;
  /** lower bound of an admission, default 20 ms */
  admissionMinMs?: number;
  /** delay between builder log lines, default 5 ms */
  builderLineDelayMs?: number;
  /** time a new sandbox stays `pending`, default 50 ms */
  sandboxPendingMs?: number;
  /** builder image/resources returned by prepare */
  builder?: { image?: string; cpus?: number; memoryMb?: number; diskMb?: number };
  /** largest accepted request body, default 256 MiB */
  maxBodyBytes?: number;
  /** kept request-log entries, default 2000 */
  requestLogLimit?: number;
  /** initial fault rules */
  faults?: FaultRuleInput[];
  /** also start the fake GitHub API (simulator/github.ts) on a port of its own: `handle.github` */
  github?: boolean | GitHubFakeOptions;
  /** suppress the per-request log lines written through `log` */
  quiet?: boolean;
  /** sink for human-readable log lines (default: none) */
  log?: (line: string) => void;
}

// ------------------------------------------------------------------------------------------
// Fault rules

interface FaultBase {
  /** assigned when absent */
  id?: string;
  /** how many times the rule fires; default 1; -1 = unlimited */
  times?: number;
  /** matching events to let through before the rule starts firing; default 0 */
  skip?: number;
}

/** request matchers (HTTP-level rules) */
interface HttpMatch {
  /** HTTP method, default any */
  method?: string;
  /** glob on the raw path without query (`*` = within a segment, `**` = anything), or `re:<regex>` */
  path?: string;
}

export interface StatusFault extends FaultBase, HttpMatch {
  kind: 'status';
  status: number;
  headers?: Record<string, string>;
  /** string → sent verbatim; anything else → JSON. Default {"error":"injected fault"} */
  body?: JsonValue;
  /** default: text/html when body is a string starting with '<', else application/json */
  contentType?: string;
  /** 'before' (default) = answer instead of doing the work; 'after' = do the work, then answer with this instead */
  when?: 'before' | 'after';
}
export interface DelayFault extends FaultBase, HttpMatch {
  kind: 'delay';
  delayMs: number;
  /** 'before' (default) = hold the request before doing anything; 'after' = do the work, then hold the answer */
  when?: 'before' | 'after';
  /** with 'before': do the work after the delay even if the client disconnected meanwhile (a request the server got, acted on late) */
  detached?: boolean;
}
export interface ResetFault extends FaultBase, HttpMatch {
  kind: 'reset';
  /** 'before' = drop without doing anything; 'after' = do the work, then drop (ambiguous) */
  when?: 'before' | 'after';
}
export interface RejectAuthFault extends FaultBase, HttpMatch {
  kind: 'rejectAuth';
}
export interface DropStreamFault extends FaultBase, HttpMatch {
  kind: 'dropStream';
  /** destroy the SSE connection after this many output events; default 0 */
  afterLines?: number;
  /** only streams of processes whose command contains this (e.g. 'tl-rootfs-build') */
  command?: string;
}
export interface SandboxPendingFault extends FaultBase {
  kind: 'sandboxPending';
  /** how long the next created sandbox stays pending */
  pendingMs: number;
}
export interface TerminateSandboxFault extends FaultBase {
  kind: 'terminateSandbox';
  /** a specific sandbox; absent = the next sandbox (created, or whose builder runs) */
  sandboxId?: string;
  /** terminate once the builder has emitted this many lines; absent = now / at creation */
  afterBuilderLines?: number;
  reason?: string;
}
/** builder faults can be limited to the build of one template name (several builds at once) */
interface BuilderMatch {
  templateName?: string;
}
export interface BuilderFailFault extends FaultBase, BuilderMatch {
  kind: 'builderFail';
  exitCode?: number;
  message?: string;
  /** fail after this many builder lines; default: at the first RUN step */
  afterLines?: number;
}
export interface BuilderOomFault extends FaultBase, BuilderMatch {
  kind: 'builderOom';
  afterLines?: number;
  /** false: dmesg shows nothing (only the process status says oom_killed); default true */
  dmesg?: boolean;
}
export interface BuilderEnospcFault extends FaultBase, BuilderMatch {
  kind: 'builderEnospc';
  afterLines?: number;
  /** false: the builder's log says nothing about disk space (only df shows 100%); default true */
  logLines?: boolean;
}
/** The builder prints these lines as they are (as output of the user's RUN steps would be), then builds on. */
export interface BuilderOutputFault extends FaultBase {
  kind: 'builderOutput';
  lines: string[];
  stream?: 'stdout' | 'stderr';
}
export interface AdmissionFailFault extends FaultBase {
  kind: 'admissionFail';
  message?: string;
}
export interface CorruptChunkFault extends FaultBase {
  kind: 'corruptChunk';
  chunkIndex?: number;
}
export interface DropChunkFault extends FaultBase {
  kind: 'dropChunk';
  chunkIndex?: number;
}
export interface AdmissionHangFault extends FaultBase {
  kind: 'admissionHang';
}

export type FaultRuleInput =
  | StatusFault
  | DelayFault
  | ResetFault
  | RejectAuthFault
  | DropStreamFault
  | SandboxPendingFault
  | TerminateSandboxFault
  | BuilderFailFault
  | BuilderOomFault
  | BuilderEnospcFault
  | BuilderOutputFault
  | AdmissionFailFault
  | CorruptChunkFault
  | DropChunkFault
  | AdmissionHangFault;

export type FaultKind = FaultRuleInput['kind'];

export type FaultRuleState = FaultRuleInput & {
  id: string;
  times: number;
  skip: number;
  /** matching events seen (skipped + fired) */
  seen: number;
  /** times fired */
  hits: number;
  /** fires left (-1 = unlimited) */
  remaining: number;
};

// ------------------------------------------------------------------------------------------
// Introspection state

export interface RequestLogEntry {
  seq: number;
  at: string;
  method: string;
  path: string;
  /** 0 when the connection was reset by a fault or the client */
  status: number;
  durationMs: number;
  role: 'platform' | 'lifecycle' | 'proxy' | 'unknown';
  sandboxId?: string;
  headers: Record<string, string>;
  /** ids of the fault rules that fired */
  faults?: string[];
}

export interface ExtractedFile {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink';
  size: number;
  mode: number;
  target?: string;
}

export interface ContextExtraction {
  at: string;
  archive: string;
  dest: string;
  exitCode: number;
  files: ExtractedFile[];
}

export interface ProcessState {
  pid: number;
  command: string;
  args: string[];
  user?: string;
  working_dir?: string;
  status: string;
  exit_code?: number;
  signal?: number;
  oom_killed: boolean;
  started_at: string;
  ended_at?: string;
  lines: number;
  /** every output line, in order (so a client's log can be compared line by line) */
  output: Array<{ stream: 'stdout' | 'stderr'; line: string }>;
}

export interface SandboxState {
  id: string;
  name?: string;
  namespace: string;
  organizationId: string;
  projectId: string;
  status: 'pending' | 'running' | 'terminated';
  image: string;
  resources: { cpus: number; memory_mb: number; disk_mb: number };
  timeoutSecs?: number;
  createdAt: string;
  runningAt?: string;
  terminatedAt?: string;
  /** set when terminated through DELETE */
  deletedAt?: string;
  terminationReason?: string;
  specs: Array<{ path: string; at: string; spec: JsonValue }>;
  contextArchives: ContextExtraction[];
  processes: ProcessState[];
  diskFull: boolean;
  oomKills: number;
}

export interface BuildHistoryEntry {
  status: string;
  at: string;
  note?: string;
}

export interface AdmissionState {
  startedAt: string;
  finishedAt?: string;
  imageSizeBytes?: number;
  chunkCount?: number;
  novelBytes?: number;
  reusedBytes?: number;
  manifestUri?: string;
}

export interface BuildState {
  buildId: string;
  organizationId: string;
  projectId: string;
  name: string;
  status: 'prepared' | 'ingesting' | 'completed' | 'failed';
  rootfsNodeKind: string;
  rootfsFormat?: string;
  snapshotId: string;
  /** the URI the builder must upload to / complete with (legacy: prepared; new: signed) */
  expectedSnapshotUri?: string;
  snapshotRelPath?: string;
  signedSnapshotUri?: string;
  history: BuildHistoryEntry[];
  prepareRequest: JsonValue;
  prepareResponse: JsonObject;
  completeRequests: JsonValue[];
  templateId?: string;
  error?: string;
  admission?: AdmissionState;
}

export interface ChunkStoreStats {
  stagedImages: number;
  stagedChunks: number;
  stagedBytes: number;
  chunks: number;
  bytes: number;
  manifests: number;
  novelBytes: number;
  reusedBytes: number;
}

export interface SimState {
  url: string;
  startedAt: string;
  sandboxes: SandboxState[];
  /** the most builder sandboxes that were alive (not terminated) at once since start or reset */
  maxConcurrentSandboxes: number;
  builds: BuildState[];
  templates: JsonObject[];
  chunkStore: ChunkStoreStats;
  /** durable snapshots "uploaded" by the builder: uri → size */
  snapshots: Array<{ uri: string; sizeBytes: number; buildId?: string }>;
  faults: FaultRuleState[];
  requests: RequestLogEntry[];
}

export interface SimulatorHandle {
  /** e.g. http://127.0.0.1:41234 (no trailing slash) */
  url: string;
  port: number;
  stop(): Promise<void>;
  state(): SimState;
  addFaults(rules: FaultRuleInput | FaultRuleInput[]): FaultRuleState[];
  clearFaults(): void;
  reset(): void;
  /** the fake GitHub API, when started with the `github` option (stopped with the simulator) */
  github?: GitHubFakeHandle;
}
