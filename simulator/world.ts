/**
 * All mutable state of one simulator instance (no module-level state: several simulators can
 * run in one process). Resolved options, templates, builds, sandboxes, the object store of
 * durable snapshots, the CAS chunk store, fault rules, the request log and the timers.
 */
import { ChunkStore } from './chunkstore.js';
import { Faults } from './faults.js';
import type { Sandbox } from './sandbox.js';
import type {
  ApiKeyConfig,
  BuildState,
  JsonObject,
  PatConfig,
  PrepareShape,
  RequestLogEntry,
  SimState,
  SimulatorOptions,
  TemplateSeed,
} from './types.js';
import { isObject, nowIso, randomHex, toJsonObject } from './util.js';

export const DEFAULT_API_KEY = 'tl_sim_key_0123456789';
export const DEFAULT_PAT = 'tl_sim_pat_0123456789';
export const DEFAULT_ORG = 'org_sim';
export const DEFAULT_PROJECT = 'proj_sim';
export const BUCKET = 's3://tl-sim-bucket';

export const DEFAULT_TEMPLATES: TemplateSeed[] = [
  {
    id: 'sandbox_template_sim_base_1',
    name: 'tensorlake/base:1',
    snapshotId: 'snapshot_sim_base_1',
    snapshotSandboxId: 'sbx_sim_seed',
    snapshotUri: `${BUCKET}/templates/tensorlake-base-1/snapshot.tlsnap`,
    snapshotFormatVersion: 'durable_archive_v1',
    snapshotSizeBytes: 734003200,
    rootfsDiskBytes: 10737418240,
    rootfsNodeKind: 'base',
    public: true,
    dockerfile: 'FROM ubuntu:24.04\n',
  },
];

export interface ResolvedOptions {
  port: number;
  host: string;
  apiKeys: ApiKeyConfig[];
  pats: PatConfig[];
  templates: TemplateSeed[];
  prepareShape: PrepareShape;
  staleSnapshotUri: boolean;
  chunkSizeBytes: number;
  admissionBytesPerSecond: number;
  admissionMinMs: number;
  builderLineDelayMs: number;
  sandboxPendingMs: number;
  builder: { image: string; cpus: number; memoryMb: number; diskMb: number };
  maxBodyBytes: number;
  requestLogLimit: number;
  quiet: boolean;
  log: (line: string) => void;
}

export function resolveOptions(o: SimulatorOptions = {}): ResolvedOptions {
  const host = o.host ?? '127.0.0.1';
  if (host !== '127.0.0.1' && host !== 'localhost')
    throw new Error(`simulator listens on loopback only (127.0.0.1 or localhost), got ${host}`);
  return {
    port: o.port ?? 0,
    host: '127.0.0.1',
    apiKeys: o.apiKeys ?? [{ key: DEFAULT_API_KEY, id: 'key_sim', organizationId: DEFAULT_ORG, projectId: DEFAULT_PROJECT }],
    pats: o.pats ?? [{ token: DEFAULT_PAT, scopes: [{ organizationId: DEFAULT_ORG, projectId: DEFAULT_PROJECT }] }],
    templates: o.templates ?? DEFAULT_TEMPLATES,
    prepareShape: o.prepareShape ?? 'new',
    staleSnapshotUri: o.staleSnapshotUri ?? true,
    chunkSizeBytes: o.chunkSizeBytes ?? 64 * 1024,
    admissionBytesPerSecond: o.admissionBytesPerSecond ?? 1024 * 1024,
    admissionMinMs: o.admissionMinMs ?? 20,
    builderLineDelayMs: o.builderLineDelayMs ?? 5,
    sandboxPendingMs: o.sandboxPendingMs ?? 50,
    builder: {
      image: o.builder?.image ?? 'tensorlake/rootfs-builder:sim',
      cpus: o.builder?.cpus ?? 2,
      memoryMb: o.builder?.memoryMb ?? 4096,
      diskMb: o.builder?.diskMb ?? 20480,
    },
    maxBodyBytes: o.maxBodyBytes ?? 256 * 1024 * 1024,
    requestLogLimit: o.requestLogLimit ?? 2000,
    quiet: o.quiet ?? false,
    log: o.log ?? (() => undefined),
  };
}

export interface StoredTemplate {
  tpl: JsonObject & { id: string; name: string };
  organizationId?: string;
  projectId?: string;
}

export interface Build extends BuildState {
  public: boolean;
  dockerfile: string;
  baseImage: string;
  /** prepared (legacy) snapshot URI, if any */
  preparedSnapshotUri?: string;
  parentManifestUri?: string;
  parentTemplateId?: string;
  /** the registered template (copy kept even if the template is later replaced) */
  template?: JsonObject;
}

export class World {
  readonly opts: ResolvedOptions;
  url = '';
  readonly startedAt = nowIso();
  faults = new Faults();
  chunks = new ChunkStore();
  templates = new Map<string, StoredTemplate>();
  builds = new Map<string, Build>();
  sandboxes = new Map<string, Sandbox>();
  /** the most sandboxes alive at once (counted whenever one is created) */
  maxConcurrentSandboxes = 0;
  /** durable snapshots written by the builder: uri → info */
  snapshots = new Map<string, { sizeBytes: number; buildId?: string; rootfsDiskBytes?: number }>();
  requests: RequestLogEntry[] = [];
  requestSeq = 0;
  private timers = new Set<NodeJS.Timeout>();

  constructor(options: SimulatorOptions = {}) {
    this.opts = resolveOptions(options);
    this.seedTemplates();
    if (options.faults) this.faults.add(options.faults);
  }

  private seedTemplates(): void {
    for (const seed of this.opts.templates) {
      const { organizationId, projectId, ...rest } = seed;
      const tpl = toJsonObject(rest) as StoredTemplate['tpl'];
      tpl.id = typeof seed.id === 'string' ? seed.id : `sandbox_template_${randomHex(8)}`;
      this.templates.set(tpl.id, { tpl, organizationId, projectId });
    }
  }

  setTimer(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** templates visible from a scope: own scope, unscoped seeds, public ones */
  visibleTemplates(org: string, project: string): StoredTemplate[] {
    return [...this.templates.values()].filter(
      (t) => t.organizationId === undefined || (t.organizationId === org && t.projectId === project) || t.tpl.public === true,
    );
  }

  /** by-name lookup; own scope first */
  findTemplate(org: string, project: string, nameOrId: string, opts: { byId?: boolean } = {}): StoredTemplate | undefined {
    const vis = this.visibleTemplates(org, project);
    const match = (t: StoredTemplate): boolean => t.tpl.name === nameOrId || (opts.byId === true && t.tpl.id === nameOrId);
    return vis.find((t) => match(t) && t.organizationId === org) ?? vis.find(match);
  }

  /** a sandbox was created: count how many are alive now */
  addSandbox(sb: Sandbox): void {
    this.sandboxes.set(sb.id, sb);
    let alive = 0;
    for (const s of this.sandboxes.values()) if (s.status !== 'terminated') alive++;
    this.maxConcurrentSandboxes = Math.max(this.maxConcurrentSandboxes, alive);
  }

  registerTemplate(org: string, project: string, tpl: StoredTemplate['tpl']): void {
    for (const [id, t] of this.templates) {
      if (t.organizationId === org && t.projectId === project && t.tpl.name === tpl.name) this.templates.delete(id);
    }
    this.templates.set(tpl.id, { tpl, organizationId: org, projectId: project });
  }

  setBuildStatus(b: Build, status: Build['status'], note?: string): void {
    b.status = status;
    b.history.push({ status, at: nowIso(), ...(note ? { note } : {}) });
  }

  logLine(line: string): void {
    if (!this.opts.quiet) this.opts.log(line);
  }

  pushRequest(e: RequestLogEntry): void {
    this.requests.push(e);
    if (this.requests.length > this.opts.requestLogLimit) this.requests.splice(0, this.requests.length - this.opts.requestLogLimit);
  }

  /** stop everything that runs in the background */
  shutdown(): void {
    this.clearTimers();
    for (const s of this.sandboxes.values()) {
      for (const r of s.openStreams) r.destroy();
      for (const p of s.processes.values()) if (p.running) p.kill(9);
      s.fs.dispose();
    }
  }

  reset(): void {
    this.shutdown();
    this.faults = new Faults();
    this.chunks = new ChunkStore();
    this.templates = new Map();
    this.builds = new Map();
    this.sandboxes = new Map();
    this.maxConcurrentSandboxes = 0;
    this.snapshots = new Map();
    this.requests = [];
    this.seedTemplates();
  }

  state(): SimState {
    return {
      url: this.url,
      startedAt: this.startedAt,
      sandboxes: [...this.sandboxes.values()].map((s) => s.stateView()),
      maxConcurrentSandboxes: this.maxConcurrentSandboxes,
      builds: [...this.builds.values()].map((b) => JSON.parse(JSON.stringify(b)) as BuildState),
      templates: [...this.templates.values()].map((t) => {
        const o: JsonObject = { ...t.tpl };
        if (t.organizationId !== undefined) o.organizationId = t.organizationId;
        if (t.projectId !== undefined) o.projectId = t.projectId;
        return JSON.parse(JSON.stringify(o)) as JsonObject;
      }),
      chunkStore: this.chunks.stats(),
      snapshots: [...this.snapshots.entries()].map(([uri, v]) => ({ uri, ...v })),
      faults: this.faults.list(),
      requests: this.requests.map((r) => ({ ...r, headers: { ...r.headers } })),
    };
  }
}

/** redact secrets inside a dockerConfigJson string: auths.*.{auth,identitytoken,password,…} */
export function redactDockerConfig(value: string): string {
  try {
    const parsed: unknown = JSON.parse(value);
    if (!isObject(parsed)) return '[REDACTED]';
    const auths = parsed.auths;
    if (isObject(auths)) {
      for (const entry of Object.values(auths)) {
        if (!isObject(entry)) continue;
        for (const k of Object.keys(entry)) if (/auth|token|password|secret/i.test(k)) entry[k] = '[REDACTED]';
      }
    }
    return JSON.stringify(parsed);
  } catch {
    return '[REDACTED]';
  }
}
