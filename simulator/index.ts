/**
 * Tensorlake platform simulator: Platform API, sandbox lifecycle API and per-sandbox proxy
 * on one loopback port, with fault injection and introspection. See simulator/README.md.
 */
import type { AddressInfo } from 'node:net';
import { addFaults, createSimServer } from './server.js';
import type { FaultRuleInput, SimulatorHandle, SimulatorOptions } from './types.js';
import { World } from './world.js';
import { startGitHubFake } from './github.js';

export type * from './types.js';
export { startGitHubFake, FAKE_GITHUB_TOKEN } from './github.js';
export type * from './github.js';
export { DEFAULT_API_KEY, DEFAULT_PAT, DEFAULT_ORG, DEFAULT_PROJECT, DEFAULT_TEMPLATES } from './world.js';

export async function startSimulator(options: SimulatorOptions = {}): Promise<SimulatorHandle> {
  const world = new World(options);
  const server = createSimServer(world);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(world.opts.port, world.opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  world.url = url;
  const github = options.github ? await startGitHubFake(options.github === true ? {} : options.github) : undefined;
  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    github,
    stop: () =>
      (stopped ??= Promise.all([
        new Promise<void>((resolve) => {
          world.shutdown();
          server.close(() => resolve());
          server.closeAllConnections();
        }),
        github?.stop(),
      ]).then(() => undefined)),
    state: () => world.state(),
    addFaults: (rules: FaultRuleInput | FaultRuleInput[]) => addFaults(world, rules),
    clearFaults: () => world.faults.clear(),
    reset: () => world.reset(),
  };
}
