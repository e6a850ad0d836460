/**
 * The real Tensorlake SDK as a second, independent client: the native binding that the npm package
 * `tensorlake` (dev dependency) ships. Its JS entry does not import on Node 20 (its bundled undici
 * needs Node 22), so the binding is loaded directly. Used by the conformance tests and the bench.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface NativeEvent {
  eventType: string;
  message: string;
  stream?: string;
}

export interface NativeOptions {
  apiUrl: string;
  bearerToken: string;
  dockerfilePath: string;
  registeredName?: string;
  isPublic?: boolean;
  organizationId?: string;
  projectId?: string;
  namespace?: string;
  useScopeHeaders?: boolean;
  dockerCompat?: boolean;
}

export interface NativeBinding {
  buildSandboxImage(opts: NativeOptions, onEvent: (e: NativeEvent) => void): Promise<string>;
}

export function loadNative(): { native: NativeBinding; version: string; path: string } {
  const require = createRequire(import.meta.url);
  // the package's exports map hides dist/native and package.json; resolve both from the CJS entry (dist/index.cjs)
  const dist = dirname(require.resolve('tensorlake'));
  const path = join(dist, 'native', `${process.platform}-${process.arch}`, 'tensorlake-node.node');
  const native = require(path) as NativeBinding;
  const version = (JSON.parse(readFileSync(join(dist, '..', 'package.json'), 'utf8')) as { version: string }).version;
  return { native, version, path };
}
