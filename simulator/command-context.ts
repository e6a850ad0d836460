/** What a simulated command gets to run with: its sandbox, process, arguments and output. */
import type { Owner } from './memfs.js';
import type { SimProcess } from './processes.js';
import type { Sandbox } from './sandbox.js';
import type { World } from './world.js';

/** A command's view of the world it runs in. */
export interface CmdCtx {
  world: World;
  sb: Sandbox;
  proc: SimProcess;
  args: string[];
  user: Owner;
  emit(line: string, stream?: 'stdout' | 'stderr'): void;
  sleep(ms: number): Promise<void>;
}
