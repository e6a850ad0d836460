/**
 * `npm run sim -- [options]` / `tl-sim [options]`: start the simulator on loopback.
 * First stdout line: `listening on http://127.0.0.1:<port>`. SIGINT/SIGTERM stop it.
 */
import { readFileSync } from 'node:fs';
import { startSimulator } from './index.js';
import { startGitHubFake, FAKE_GITHUB_TOKEN } from './github.js';
import type { FaultRuleInput, SimulatorOptions, TemplateSeed } from './types.js';
import { DEFAULT_API_KEY, DEFAULT_ORG, DEFAULT_PAT, DEFAULT_PROJECT } from './world.js';

const HELP = `usage: tl-sim [options]
  --port <n>                     TCP port (default 0 = ephemeral)
  --host <127.0.0.1|localhost>   loopback address (default 127.0.0.1)
  --prepare-shape <new|legacy>   prepare response shape (default new)
  --no-stale-snapshot-uri        new shape without a stale snapshotUri
  --faults <file.json>           fault rules (a rule or an array of rules)
  --templates <file.json>        seed templates (array), replaces the default base template
  --chunk-size <bytes>           CAS chunk size (default 65536)
  --admission-rate <bytes/s>     CAS admission throughput (default 1048576)
  --builder-line-delay <ms>      delay between builder log lines (default 5)
  --sandbox-pending <ms>         time a sandbox stays pending (default 50)
  --quiet                        no per-request log lines on stderr
  --github                       also start the fake GitHub API (statuses, PR comments) on its own port
  --github-only                  start only the fake GitHub API
Defaults: API key ${DEFAULT_API_KEY} and PAT ${DEFAULT_PAT} for ${DEFAULT_ORG}/${DEFAULT_PROJECT}.`;

function fail(msg: string): never {
  process.stderr.write(`tl-sim: ${msg}\n${HELP}\n`);
  process.exit(2);
}

function num(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < 0) fail(`${flag} needs a non-negative number`);
  return n;
}

function readJson(flag: string, file: string | undefined): unknown {
  if (!file) fail(`${flag} needs a file`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    fail(`cannot read ${flag} ${file}: ${(e as Error).message}`);
  }
}

let githubOnly = false;

export function parseArgs(argv: string[]): SimulatorOptions {
  const o: SimulatorOptions = { log: (l) => process.stderr.write(l + '\n') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--port':
        o.port = num(flag, val());
        break;
      case '--host':
        o.host = val();
        break;
      case '--prepare-shape': {
        const v = val();
        if (v !== 'new' && v !== 'legacy') fail('--prepare-shape must be new or legacy');
        o.prepareShape = v;
        break;
      }
      case '--no-stale-snapshot-uri':
        o.staleSnapshotUri = false;
        break;
      case '--faults': {
        const f = readJson(flag, val());
        o.faults = (Array.isArray(f) ? f : [f]) as FaultRuleInput[];
        break;
      }
      case '--templates': {
        const t = readJson(flag, val());
        if (!Array.isArray(t)) fail('--templates must hold a JSON array');
        o.templates = t as TemplateSeed[];
        break;
      }
      case '--chunk-size':
        o.chunkSizeBytes = num(flag, val());
        break;
      case '--admission-rate':
        o.admissionBytesPerSecond = num(flag, val());
        break;
      case '--builder-line-delay':
        o.builderLineDelayMs = num(flag, val());
        break;
      case '--sandbox-pending':
        o.sandboxPendingMs = num(flag, val());
        break;
      case '--quiet':
        o.quiet = true;
        break;
      case '--github':
        o.github = true;
        break;
      case '--github-only':
        githubOnly = true;
        break;
      case '--help':
      case '-h':
        process.stdout.write(HELP + '\n');
        process.exit(0);
        break;
      default:
        fail(`unknown option ${a}`);
    }
  }
  return o;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (githubOnly) {
    const gh = await startGitHubFake({ port: opts.port }).catch((e: Error) => fail(e.message));
    process.stdout.write(`github api on ${gh.url}\n`);
    process.stderr.write(`tl-sim: fake GitHub API, token ${FAKE_GITHUB_TOKEN}; state at ${gh.url}/_fake/state\n`);
    const stop = (): void => void gh.stop().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return;
  }
  let sim;
  try {
    sim = await startSimulator(opts);
  } catch (e) {
    fail((e as Error).message);
  }
  process.stdout.write(`listening on ${sim.url}\n`);
  if (sim.github) {
    process.stdout.write(`github api on ${sim.github.url}\n`);
    process.stderr.write(`tl-sim: fake GitHub API, token ${FAKE_GITHUB_TOKEN}; state at ${sim.github.url}/_fake/state\n`);
  }
  process.stderr.write(
    `tl-sim: API key ${DEFAULT_API_KEY}, PAT ${DEFAULT_PAT} (${DEFAULT_ORG}/${DEFAULT_PROJECT}); state at ${sim.url}/_sim/state\n`,
  );
  const shutdown = (sig: string): void => {
    process.stderr.write(`tl-sim: ${sig}, stopping\n`);
    void sim.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

void main();
