/**
 * A tiny hand-written client for the simulator tests: raw HTTP over node:http (so the Host
 * header can be set), SSE parsing with eventsource-parser, and the process protocol of §6.2.
 */
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { createParser } from 'eventsource-parser';
import { pack } from 'tar-stream';
import type { SimulatorHandle } from '../../simulator/index.js';

export const KEY = 'tl_sim_key_0123456789';
export const PAT = 'tl_sim_pat_0123456789';
export const ORG = 'org_sim';
export const PROJ = 'proj_sim';
export const SCOPE = `/platform/v1/organizations/${ORG}/projects/${PROJ}`;
export const BUILD_DIR = '/var/lib/tensorlake/rootfs-builder/build';

export const FAST = {
  quiet: true,
  builderLineDelayMs: 1,
  sandboxPendingMs: 5,
  admissionBytesPerSecond: 64 * 1024 * 1024,
  admissionMinMs: 5,
} as const;

export interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: unknown;
}

export interface ReqOpts {
  token?: string | null;
  json?: unknown;
  raw?: Buffer | string;
  headers?: Record<string, string>;
  sandbox?: string;
  /** route by Host <id>.local instead of the header */
  viaHost?: boolean;
}

export function req(sim: { url: string }, method: string, path: string, o: ReqOpts = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const u = new URL(sim.url);
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.token !== null) headers.authorization = `Bearer ${o.token ?? KEY}`;
    let body: Buffer | undefined;
    if (o.json !== undefined) {
      body = Buffer.from(JSON.stringify(o.json));
      headers['content-type'] = 'application/json';
    } else if (o.raw !== undefined) body = Buffer.from(o.raw);
    if (body) headers['content-length'] = String(body.length);
    if (o.sandbox) {
      if (o.viaHost) headers.host = `${o.sandbox}.local`;
      else headers['x-tensorlake-sandbox-id'] = o.sandbox;
    }
    const r = httpRequest({ host: u.hostname, port: u.port, method, path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let parsed: unknown = undefined;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(body);
  });
}

/** an object body (asserting it is one) */
export function obj(r: Res): Record<string, any> {
  if (typeof r.body !== 'object' || r.body === null) throw new Error(`expected a JSON object, got ${r.status} ${r.text}`);
  return r.body as Record<string, any>;
}

export interface SseResult {
  status: number;
  contentType: string;
  events: Array<Record<string, any>>;
  /** true when the connection ended with an error (reset) */
  aborted: boolean;
}

export function sse(sim: { url: string }, method: string, path: string, o: ReqOpts = {}): Promise<SseResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(sim.url);
    const headers: Record<string, string> = { accept: 'text/event-stream', ...(o.headers ?? {}) };
    if (o.token !== null) headers.authorization = `Bearer ${o.token ?? KEY}`;
    let body: Buffer | undefined;
    if (o.json !== undefined) {
      body = Buffer.from(JSON.stringify(o.json));
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(body.length);
    }
    if (o.sandbox) headers['x-tensorlake-sandbox-id'] = o.sandbox;
    const events: Array<Record<string, any>> = [];
    const parser = createParser({
      onEvent: (ev) => {
        try {
          events.push(JSON.parse(ev.data) as Record<string, any>);
        } catch {
          /* heartbeat */
        }
      },
    });
    const r = httpRequest({ host: u.hostname, port: u.port, method, path, headers, agent: false }, (res) => {
      const ct = String(res.headers['content-type'] ?? '');
      let aborted = false;
      res.setEncoding('utf8');
      res.on('data', (c: string) => parser.feed(c));
      res.on('aborted', () => (aborted = true));
      res.on('error', () => (aborted = true));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, contentType: ct, events, aborted: aborted || !res.complete }));
    });
    r.on('error', (e) => (events.length ? resolve({ status: 200, contentType: '', events, aborted: true }) : reject(e)));
    r.end(body);
  });
}

/** create a sandbox and wait until it runs */
export async function sandbox(
  sim: SimulatorHandle,
  o: { token?: string; headers?: Record<string, string>; name?: string } = {},
): Promise<string> {
  const c = await req(sim, 'POST', '/v1/namespaces/default/sandboxes', {
    token: o.token,
    headers: o.headers,
    json: {
      image: 'tensorlake/rootfs-builder:sim',
      resources: { cpus: 2.0, memory_mb: 4096, disk_mb: 20480 },
      timeout_secs: 300,
      ...(o.name ? { name: o.name } : {}),
    },
  });
  if (c.status !== 200) throw new Error(`create failed: ${c.status} ${c.text}`);
  const id = obj(c).sandbox_id as string;
  for (let i = 0; i < 200; i++) {
    const g = await req(sim, 'GET', `/v1/namespaces/default/sandboxes/${id}`, { token: o.token, headers: o.headers });
    if (obj(g).status === 'running') return id;
    if (obj(g).status === 'terminated') throw new Error('terminated');
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('sandbox never ran');
}

export interface Ran {
  pid: number;
  lines: Array<{ line: string; stream: string }>;
  info: Record<string, any>;
}

/** §6.2: start → follow → status */
export async function run(
  sim: SimulatorHandle,
  sb: string,
  command: string,
  args: string[] = [],
  extra: Record<string, unknown> = {},
  o: ReqOpts = {},
): Promise<Ran> {
  const s = await req(sim, 'POST', '/api/v1/processes', { ...o, sandbox: sb, json: { command, args, ...extra } });
  if (s.status !== 200) throw new Error(`start failed: ${s.status} ${s.text}`);
  const pid = obj(s).pid as number;
  const f = await sse(sim, 'GET', `/api/v1/processes/${pid}/output/follow`, { ...o, sandbox: sb });
  const st = await req(sim, 'GET', `/api/v1/processes/${pid}`, { ...o, sandbox: sb });
  return { pid, lines: f.events.map((e) => ({ line: e.line as string, stream: (e.stream as string) ?? 'stdout' })), info: obj(st) };
}

export type TarEntry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; data?: string; linkname?: string; mode?: number };

export async function tarGz(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const parts: Buffer[] = [];
  p.on('data', (c: unknown) => void parts.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'file') p.entry({ name: e.name, mode: e.mode ?? 0o644 }, e.data ?? '');
    else p.entry({ name: e.name, type, linkname: e.linkname, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o777) });
  }
  p.finalize();
  await done;
  return gzipSync(Buffer.concat(parts));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** poll a build until it leaves prepared/ingesting */
export async function pollBuild(
  sim: SimulatorHandle,
  buildId: string,
  o: ReqOpts = {},
): Promise<{ polls: number; body: Record<string, any> }> {
  for (let polls = 1; polls < 2000; polls++) {
    const r = await req(sim, 'GET', `${SCOPE}/sandbox-template-builds/${buildId}`, o);
    const b = obj(r);
    if (b.status !== 'ingesting' && b.status !== 'prepared') return { polls, body: b };
    await sleep(5);
  }
  throw new Error('build never finished');
}

export interface BuildFlowOpts {
  dockerfile?: string;
  name?: string;
  files?: TarEntry[];
  cas?: boolean;
  /** tweak the complete body before sending */
  mutateComplete?: (b: Record<string, any>) => void;
  /** tweak spec.json before upload */
  mutateSpec?: (s: Record<string, any>) => void;
  /** import build: no context upload */
  noContext?: boolean;
}

/**
 * The hand-written client sequence: prepare → sandbox → readiness → sign → mkdir/chmod →
 * upload tar.gz → tar -xzf → spec → builder → metadata → complete. Returns everything.
 */
export async function buildFlow(sim: SimulatorHandle, o: BuildFlowOpts = {}) {
  const dockerfile =
    o.dockerfile ?? 'FROM python:3.12-slim\nWORKDIR /app\nCOPY . /app\nRUN pip install -r requirements.txt\nCMD ["python","main.py"]\n';
  const prep = await req(sim, 'POST', `${SCOPE}/sandbox-template-builds`, {
    json: {
      name: o.name ?? 'cas-img',
      dockerfile,
      baseImage: 'python:3.12-slim',
      public: false,
      rootfsNodeKind: 'base',
      parentTemplate: null,
      additionalLocalImages: [],
      ...(o.cas === false ? {} : { rootfsFormat: 'cas-streaming' }),
    },
  });
  if (prep.status !== 200) throw new Error(`prepare: ${prep.status} ${prep.text}`);
  const prepared = obj(prep);
  const sb = await sandbox(sim);
  const probe = await run(sim, sb, '/bin/true');
  if (probe.info.exit_code !== 0) throw new Error('probe failed');
  const spec: Record<string, any> = { ...prepared };
  let signedUri: string | undefined;
  if (typeof prepared.snapshotRelPath === 'string') {
    const s = await req(sim, 'POST', '/api/v1/blob/sign', {
      sandbox: sb,
      json: {
        target: { kind: 'artifact', rel_path: prepared.snapshotRelPath },
        op: { kind: 'put_artifact', multipart_hint: { max_parts: 160, part_size_bytes: 67108864 } },
      },
    });
    if (s.status !== 200) throw new Error(`sign: ${s.status} ${s.text}`);
    spec.upload = obj(s);
    signedUri = obj(s).uri as string;
    spec.snapshotUri = signedUri;
  }
  await run(sim, sb, 'mkdir', ['-p', BUILD_DIR], { user: 'root' });
  await run(sim, sb, 'chmod', ['0777', BUILD_DIR], { user: 'root' });
  if (!o.noContext) {
    const archive = await tarGz(
      o.files ?? [
        { name: 'main.py', data: 'print("hi")\n' },
        { name: 'requirements.txt', data: 'requests\n' },
        { name: 'pkg/util.py', data: 'X = 1\n' },
      ],
    );
    const put = await req(sim, 'PUT', `/api/v1/files?path=${encodeURIComponent(`${BUILD_DIR}/context.tar.gz`)}`, {
      sandbox: sb,
      raw: archive,
    });
    if (put.status !== 200) throw new Error(`upload: ${put.status} ${put.text}`);
    await run(sim, sb, 'mkdir', ['-p', `${BUILD_DIR}/context`]);
    const tar = await run(sim, sb, 'tar', ['-xzf', `${BUILD_DIR}/context.tar.gz`, '-C', `${BUILD_DIR}/context`]);
    if (tar.info.exit_code !== 0) throw new Error(`tar: ${JSON.stringify(tar.lines)}`);
    await req(sim, 'DELETE', `/api/v1/files?path=${encodeURIComponent(`${BUILD_DIR}/context.tar.gz`)}`, { sandbox: sb });
  }
  Object.assign(spec, {
    dockerfile,
    contextDir: `${BUILD_DIR}/context`,
    baseImage: 'python:3.12-slim',
    rootfsDiskBytes: 10 * 1024 * 1024 * 1024,
  });
  o.mutateSpec?.(spec);
  await req(sim, 'PUT', `/api/v1/files?path=${encodeURIComponent(`${BUILD_DIR}/spec.json`)}`, {
    sandbox: sb,
    raw: JSON.stringify(spec, null, 2),
  });
  const builder = await run(
    sim,
    sb,
    '/usr/local/bin/tl-rootfs-build',
    ['--spec', `${BUILD_DIR}/spec.json`, '--metadata-out', `${BUILD_DIR}/metadata.json`],
    {
      env: { PATH: '/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
      working_dir: BUILD_DIR,
      user: 'root',
    },
  );
  const metaRes = await req(sim, 'GET', `/api/v1/files?path=${encodeURIComponent(`${BUILD_DIR}/metadata.json`)}`, { sandbox: sb });
  const metadata = metaRes.status === 200 ? obj(metaRes) : undefined;
  let complete: Res | undefined;
  if (metadata) {
    const cas = metadata.rootfsFormat === 'cas-streaming';
    const body: Record<string, any> = cas
      ? {
          snapshotId: metadata.snapshotId,
          snapshotUri: signedUri ?? prepared.snapshotUri,
          snapshotFormatVersion: 'content_addressed_streaming_v1',
          snapshotSizeBytes: metadata.imageSizeBytes,
          rootfsDiskBytes: 10 * 1024 * 1024 * 1024,
          rootfsNodeKind: 'base',
          rootfsFormat: 'cas-streaming',
        }
      : {
          snapshotId: metadata.snapshot_id,
          snapshotUri: signedUri ?? metadata.snapshot_uri,
          snapshotFormatVersion: metadata.snapshot_format_version,
          snapshotSizeBytes: metadata.snapshot_size_bytes,
          rootfsDiskBytes: metadata.rootfs_disk_bytes,
          rootfsNodeKind: metadata.rootfs_node_kind,
        };
    o.mutateComplete?.(body);
    complete = await req(sim, 'POST', `${SCOPE}/sandbox-template-builds/${prepared.buildId as string}/complete`, { json: body });
  }
  return { prepared, sb, builder, metadata, complete, signedUri, buildId: prepared.buildId as string };
}
