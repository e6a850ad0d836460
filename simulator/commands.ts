/**
 * Emulated commands (nothing is ever executed on the host): /bin/true, /bin/false, echo,
 * mkdir, chmod, tar -xzf, /bin/sh -c/-lc (dmesg / df diagnostics), and the rootfs builder.
 */
import { posix } from 'node:path';
import { runBuilder } from './builder.js';
import { FsError } from './memfs.js';
import { ProcessKilled, type ExitResult, type SimProcess, type StartPayload } from './processes.js';
import type { Sandbox } from './sandbox.js';
import { extractTarGz } from './tar.js';
import { HttpError } from './util.js';
import type { CmdCtx } from './command-context.js';
import type { World } from './world.js';

type CommandFn = (c: CmdCtx) => Promise<ExitResult>;

const exit = (code: number): ExitResult => ({ kind: 'exit', code });

async function mkdirCmd(c: CmdCtx): Promise<ExitResult> {
  let parents = false;
  let mode: number | undefined;
  const paths: string[] = [];
  for (let i = 0; i < c.args.length; i++) {
    const a = c.args[i];
    if (a === '-p' || a === '--parents') parents = true;
    else if (a === '-m' || a === '--mode') mode = parseInt(c.args[++i] ?? '', 8);
    else if (a.startsWith('-') && a.length > 1) {
      if (/^-[pv]+$/.test(a)) parents = parents || a.includes('p');
      else {
        c.emit(`mkdir: invalid option -- '${a.replace(/^-+/, '')}'`, 'stderr');
        return exit(1);
      }
    } else paths.push(a);
  }
  if (paths.length === 0) {
    c.emit('mkdir: missing operand', 'stderr');
    return exit(1);
  }
  let code = 0;
  for (const p of paths) {
    const abs = p.startsWith('/') ? p : posix.join(c.proc.payload.working_dir ?? '/', p);
    try {
      c.sb.fs.mkdir(abs, { recursive: parents, user: c.user, mode: mode ?? 0o755 });
    } catch (e) {
      if (!(e instanceof FsError)) throw e;
      c.emit(`mkdir: cannot create directory '${p}': ${e.text}`, 'stderr');
      code = 1;
    }
  }
  return exit(code);
}

async function chmodCmd(c: CmdCtx): Promise<ExitResult> {
  const args = c.args.filter((a) => a !== '-R' && a !== '--recursive');
  if (args.length < 2) {
    c.emit(args.length === 0 ? 'chmod: missing operand' : `chmod: missing operand after '${args[0]}'`, 'stderr');
    return exit(1);
  }
  const [modeStr, ...paths] = args;
  if (!/^[0-7]{1,4}$/.test(modeStr)) {
    c.emit(`chmod: invalid mode: '${modeStr}'`, 'stderr');
    return exit(1);
  }
  const mode = parseInt(modeStr, 8);
  let code = 0;
  for (const p of paths) {
    const node = c.sb.fs.stat(p);
    if (!node) {
      c.emit(`chmod: cannot access '${p}': No such file or directory`, 'stderr');
      code = 1;
      continue;
    }
    if (c.user !== 'root' && node.owner !== c.user) {
      c.emit(`chmod: changing permissions of '${p}': Operation not permitted`, 'stderr');
      code = 1;
      continue;
    }
    c.sb.fs.chmod(p, mode);
  }
  return exit(code);
}

async function tarCmd(c: CmdCtx): Promise<ExitResult> {
  let extract = false;
  let gzip = false;
  let file: string | undefined;
  let dir: string | undefined;
  const a = [...c.args];
  for (let i = 0; i < a.length; i++) {
    const arg = a[i];
    if (arg === '-C' || arg === '--directory') dir = a[++i];
    else if (arg.startsWith('--directory=')) dir = arg.slice('--directory='.length);
    else if (arg === '-f' || arg === '--file') file = a[++i];
    else if (arg.startsWith('--file=')) file = arg.slice('--file='.length);
    else if (arg === '--extract' || arg === '--get') extract = true;
    else if (arg === '--gzip' || arg === '--gunzip') gzip = true;
    else if (/^-?[a-zA-Z]+$/.test(arg) && (arg.startsWith('-') || i === 0)) {
      const letters = arg.replace(/^-/, '');
      for (let j = 0; j < letters.length; j++) {
        const l = letters[j];
        if (l === 'x') extract = true;
        else if (l === 'z') gzip = true;
        else if (l === 'f') file = a[++i];
        else if (l === 'C') dir = a[++i];
        else if (l === 'v' || l === 'o' || l === 'p') continue;
        else {
          c.emit(`tar: invalid option -- '${l}'`, 'stderr');
          c.emit("Try 'tar --help' or 'tar --usage' for more information.", 'stderr');
          return exit(2);
        }
      }
    } else {
      c.emit(`tar: ${arg}: Not found in archive`, 'stderr');
      c.emit('tar: Exiting with failure status due to previous errors', 'stderr');
      return exit(2);
    }
  }
  if (!extract) {
    c.emit("tar: You must specify one of the '-Acdtrux', '--delete' or '--test-label' options", 'stderr');
    c.emit("Try 'tar --help' or 'tar --usage' for more information.", 'stderr');
    return exit(2);
  }
  if (!file) {
    c.emit('tar: Refusing to read archive contents from terminal (missing -f option?)', 'stderr');
    c.emit('tar: Error is not recoverable: exiting now', 'stderr');
    return exit(2);
  }
  if (!gzip) {
    c.emit('tar: this simulator only extracts gzip-compressed archives (-z)', 'stderr');
    return exit(2);
  }
  const dest = dir ?? c.proc.payload.working_dir ?? '/';
  const r = await extractTarGz(c.sb.fs, file, dest, c.user);
  for (const l of r.stderr) c.emit(l, 'stderr');
  c.sb.contextArchives.push({ at: new Date().toISOString(), archive: file, dest, exitCode: r.exitCode, files: r.files });
  await c.sleep(c.world.opts.builderLineDelayMs);
  return exit(r.exitCode);
}

function dfLine(c: CmdCtx, mount: string): string {
  const total = c.sb.resources.disk_mb * 1024;
  const used = c.sb.diskFull ? total : Math.round(total * 0.12);
  const pct = Math.round((used / total) * 100);
  return `/dev/vda ${String(total).padStart(14)} ${String(used).padStart(9)} ${String(total - used).padStart(9)} ${String(pct).padStart(7)}% ${mount}`;
}

async function shCmd(c: CmdCtx): Promise<ExitResult> {
  const flagIdx = c.args.findIndex((a) => a === '-c' || a === '-lc' || a === '-cl');
  if (flagIdx < 0 || c.args[flagIdx + 1] === undefined) {
    c.emit('sh: this simulator only runs scripts given with -c / -lc', 'stderr');
    return exit(2);
  }
  const script = c.args[flagIdx + 1];
  let handled = false;
  if (/\bdmesg\b/.test(script)) {
    handled = true;
    c.emit('[    0.000000] Linux version 6.1.102-tl-sim (builder@tensorlake) (gcc 12.2.0) #1 SMP PREEMPT_DYNAMIC');
    c.emit('[    0.412345] virtio_blk virtio1: [vda] 41943040 512-byte logical blocks (21.5 GB/20.0 GiB)');
    c.emit('[    1.204518] EXT4-fs (vda): mounted filesystem with ordered data mode. Quota mode: none.');
    c.emit('[    2.881007] docker0: port 1(veth3a1f2c4) entered forwarding state');
    for (const k of c.sb.oomKills) {
      c.emit(`[  812.345678] dockerd invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=-500`);
      c.emit(
        `[  812.345901] Memory cgroup out of memory: Killed process ${4000 + k.pid} (${k.command}) total-vm:8123456kB, anon-rss:${c.sb.resources.memory_mb * 1000}kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:8123kB oom_score_adj:0`,
      );
      c.emit(`[  812.346002] Out of memory: Killed process ${4000 + k.pid} (${k.command})`);
    }
    if (c.sb.diskFull) c.emit('[  640.118250] EXT4-fs warning (device vda): ext4_dx_add_entry:2589: Directory index full!');
  }
  if (/\bdf\b/.test(script)) {
    handled = true;
    for (const m of ['/var/lib/tensorlake/rootfs-builder/build', '/var/lib/docker', '/']) {
      if (script.includes(m) && !c.sb.fs.exists(m)) continue;
      c.emit('Filesystem     1024-blocks      Used Available Capacity Mounted on');
      c.emit(dfLine(c, '/'));
    }
  }
  if (!handled) {
    const trimmed = script.trim();
    const m = /^exit\s+(\d+)$/.exec(trimmed);
    if (m) return exit(Number(m[1]));
    if (trimmed === 'true' || trimmed === ':' || trimmed === '') return exit(0);
    if (trimmed.startsWith('echo ')) {
      c.emit(trimmed.slice(5).replace(/^["']|["']$/g, ''));
      return exit(0);
    }
    c.emit(`sh: 1: ${trimmed.split(/\s+/)[0]}: not found`, 'stderr');
    return exit(127);
  }
  return exit(0);
}

const COMMANDS: Record<string, CommandFn> = {
  true: async () => exit(0),
  false: async () => exit(1),
  echo: async (c) => {
    c.emit(c.args.join(' '));
    return exit(0);
  },
  sleep: async (c) => {
    const secs = Number(c.args[0]);
    if (c.args.length !== 1 || !Number.isFinite(secs) || secs < 0) {
      c.emit(c.args.length ? `sleep: invalid time interval '${c.args[0]}'` : 'sleep: missing operand', 'stderr');
      return exit(1);
    }
    await c.sleep(secs * 1000);
    return exit(0);
  },
  mkdir: mkdirCmd,
  chmod: chmodCmd,
  tar: tarCmd,
  sh: shCmd,
  bash: shCmd,
  'tl-rootfs-build': runBuilder,
};

const DIRS = ['/bin', '/usr/bin', '/usr/local/bin', '/sbin', '/usr/sbin'];

export function resolveCommand(command: string): CommandFn | undefined {
  const base = posix.basename(command);
  if (command.includes('/')) {
    if (!DIRS.includes(posix.dirname(command))) return undefined;
    if (base === 'tl-rootfs-build' && posix.dirname(command) !== '/usr/local/bin') return undefined;
  }
  return Object.prototype.hasOwnProperty.call(COMMANDS, base) ? COMMANDS[base] : undefined;
}

/** start a process in a sandbox; throws HttpError for spawn failures */
export function launch(world: World, sb: Sandbox, payload: StartPayload): SimProcess {
  const fn = resolveCommand(payload.command);
  if (!fn)
    throw new HttpError(
      500,
      `Failed to start process: failed to spawn '${payload.command}': No such file or directory (os error 2)`,
      'PROCESS_START_FAILED',
    );
  if (payload.working_dir !== undefined && sb.fs.stat(payload.working_dir)?.type !== 'dir') {
    throw new HttpError(
      500,
      `Failed to start process: working directory '${payload.working_dir}': No such file or directory (os error 2)`,
      'PROCESS_START_FAILED',
    );
  }
  const proc = sb.spawn(payload);
  const ctx: CmdCtx = {
    world,
    sb,
    proc,
    args: payload.args,
    user: payload.user === 'root' ? 'root' : 'user',
    emit: (line, stream = 'stdout') => proc.emit(line, stream),
    sleep: (ms) => proc.sleep(ms),
  };
  if (payload.timeout !== undefined && payload.timeout > 0) {
    world.setTimer(() => {
      if (proc.running) proc.kill(9);
    }, payload.timeout * 1000);
  }
  void (async () => {
    try {
      proc.finish(await fn(ctx));
    } catch (e) {
      if (e instanceof ProcessKilled) return;
      proc.emit(`internal simulator error: ${(e as Error).message}`, 'stderr');
      proc.finish(exit(70));
    }
  })();
  return proc;
}
