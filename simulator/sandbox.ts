/** A builder sandbox: lifecycle status, in-memory filesystem, process table, evidence. */
import type { ServerResponse } from 'node:http';
import { MemFs } from './memfs.js';
import { SimProcess, type StartPayload } from './processes.js';
import type { ContextExtraction, JsonObject, JsonValue, SandboxState } from './types.js';

export type SandboxStatus = 'pending' | 'running' | 'terminated';

export class Sandbox {
  status: SandboxStatus = 'pending';
  readonly createdAt = new Date().toISOString();
  runningAt?: string;
  terminatedAt?: string;
  deletedAt?: string;
  terminationReason?: string;
  readonly fs = new MemFs();
  readonly processes = new Map<number, SimProcess>();
  private nextPid = 100;
  readonly specs: Array<{ path: string; at: string; spec: JsonValue }> = [];
  readonly contextArchives: ContextExtraction[] = [];
  diskFull = false;
  readonly oomKills: Array<{ pid: number; command: string; at: number }> = [];
  readonly openStreams = new Set<ServerResponse>();
  /** set by a terminateSandbox fault with afterBuilderLines */
  terminateAfterBuilderLines?: { lines: number; reason: string };

  constructor(
    readonly id: string,
    readonly namespace: string,
    readonly organizationId: string,
    readonly projectId: string,
    readonly image: string,
    readonly resources: { cpus: number; memory_mb: number; disk_mb: number },
    readonly timeoutSecs: number | undefined,
    readonly name: string | undefined,
    readonly routingHint: string,
  ) {}

  spawn(payload: StartPayload): SimProcess {
    const p = new SimProcess(this.nextPid++, payload);
    this.processes.set(p.pid, p);
    return p;
  }

  markRunning(): void {
    if (this.status !== 'pending') return;
    this.status = 'running';
    this.runningAt = new Date().toISOString();
  }

  terminate(reason: string): void {
    if (this.status === 'terminated') return;
    this.status = 'terminated';
    this.terminatedAt = new Date().toISOString();
    this.terminationReason = reason;
    for (const p of this.processes.values()) if (p.running) p.kill(9);
    this.fs.dispose();
  }

  /** SandboxInfo per §5.2 */
  info(sandboxUrl: string): JsonObject {
    const o: JsonObject = {
      sandbox_id: this.id,
      namespace: this.namespace,
      status: this.status,
      image: this.image,
      resources: { cpus: this.resources.cpus, memory_mb: this.resources.memory_mb, ephemeral_disk_mb: this.resources.disk_mb },
      created_at: this.createdAt,
      routing_hint: this.routingHint,
      sandbox_url: sandboxUrl,
      allow_unauthenticated_access: false,
      exposed_ports: [],
      file_systems: [],
    };
    if (this.timeoutSecs !== undefined) o.timeout_secs = this.timeoutSecs;
    if (this.name !== undefined) o.name = this.name;
    if (this.status === 'terminated') {
      o.terminated_at = this.terminatedAt ?? null;
      o.termination_reason = this.terminationReason ?? null;
      o.outcome = this.deletedAt ? 'deleted' : 'terminated';
    }
    return o;
  }

  stateView(): SandboxState {
    return {
      id: this.id,
      name: this.name,
      namespace: this.namespace,
      organizationId: this.organizationId,
      projectId: this.projectId,
      status: this.status,
      image: this.image,
      resources: { ...this.resources },
      timeoutSecs: this.timeoutSecs,
      createdAt: this.createdAt,
      runningAt: this.runningAt,
      terminatedAt: this.terminatedAt,
      deletedAt: this.deletedAt,
      terminationReason: this.terminationReason,
      specs: this.specs.map((s) => ({ ...s })),
      contextArchives: this.contextArchives.map((c) => ({ ...c, files: c.files.map((f) => ({ ...f })) })),
      processes: [...this.processes.values()].map((p) => p.stateView()),
      diskFull: this.diskFull,
      oomKills: this.oomKills.length,
    };
  }
}
