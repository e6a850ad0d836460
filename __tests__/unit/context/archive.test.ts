import { expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, createReadStream, promises as fsp, renameSync, symlinkSync, truncateSync, unlinkSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { archiveTestHooks, createContextArchive, type ArchiveProgress, type ContextArchive } from '../../../src/context/archive.js';
import { ActionError } from '../../../src/errors.js';
import { scanContext } from '../../../src/context/walk.js';

interface ReadEntry {
  header: tar.Header;
  data: Buffer;
}

async function readArchive(file: string): Promise<ReadEntry[]> {
  const ex = tar.extract();
  const out: ReadEntry[] = [];
  const consume = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.push({ header: entry.header, data: Buffer.concat(chunks) });
    }
  })();
  await pipeline(createReadStream(file), zlib.createGunzip(), ex);
  await consume;
  return out;
}

async function rawTar(file: string): Promise<Buffer> {
  return zlib.gunzipSync(await fsp.readFile(file));
}

async function mkTmp(prefix = 'ctx-'): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Creates files: a key ending in `/` is a directory; a value is the content. */
async function makeTree(root: string, tree: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(tree)) {
    const p = path.join(root, rel);
    if (rel.endsWith('/')) {
      await fsp.mkdir(p, { recursive: true });
    } else {
      await fsp.mkdir(path.dirname(p), { recursive: true });
      await fsp.writeFile(p, content);
    }
  }
}

async function withDirs<T>(fn: (ctx: string, out: string) => Promise<T>): Promise<T> {
  const ctx = await mkTmp('ctx-');
  const out = await mkTmp('ctx-out-');
  try {
    return await fn(ctx, out);
  } finally {
    await fsp.rm(ctx, { recursive: true, force: true });
    await fsp.rm(out, { recursive: true, force: true });
  }
}

function isCtxError(re: RegExp, kind = 'context') {
  return (e: unknown) => {
    assert.ok(e instanceof ActionError, `expected ActionError, got ${String(e)}`);
    assert.equal(e.kind, kind);
    assert.match(e.message, re);
    return true;
  };
}

test("the reference client's test context under Docker semantics: ignored.txt + cache/drop.txt", async () => {
  await withDirs(async (ctx, out) => {
    await makeTree(ctx, {
      '.dockerignore': 'ignored.txt\ncache/drop.txt\n',
      'included.txt': 'in',
      'ignored.txt': 'no',
      'cache/drop.txt': 'no',
      'cache/keep.txt': 'keep',
    });
    const a = await createContextArchive(ctx, { tmpDir: out });
    // directories are entries too (empty directories survive, like Docker's context)
    assert.deepEqual(a.entries, ['.dockerignore', 'cache', 'cache/keep.txt', 'included.txt']);
    assert.equal(a.fileCount, 3);
    assert.equal(a.dirCount, 1);
    assert.equal(a.ignoreFile, path.join(ctx, '.dockerignore'));
    const read = await readArchive(a.path);
    assert.deepEqual(
      read.map((e) => e.header.name),
      ['.dockerignore', 'cache/', 'cache/keep.txt', 'included.txt'],
    );
    assert.equal(read.find((e) => e.header.name === 'cache/keep.txt')?.data.toString(), 'keep');
    await a.cleanup();
    await assert.rejects(fsp.stat(a.path), { code: 'ENOENT' });
  });
});

test("the reference client's recorded build context under Docker semantics: nested/trace.log is KEPT for *.log", async () => {
  await withDirs(async (ctx, out) => {
    await makeTree(ctx, {
      '.dockerignore': '*.log\nsecrets/\n**/__pycache__\n!keep.log\n',
      Dockerfile: 'FROM python:3.12-slim\n',
      'src/main.py': 'print(1)\n',
      'src/util/helpers.py': 'x = 1\n',
      'src/__pycache__/main.cpython-312.pyc': 'pyc',
      '__pycache__/top.pyc': 'pyc',
      'keep.log': 'keep',
      'app.log': 'drop',
      'nested/trace.log': 'kept under Docker rules',
      'secrets/token': 'drop',
    });
    const a = await createContextArchive(ctx, { tmpDir: out });
    assert.deepEqual(a.entries, [
      '.dockerignore',
      'Dockerfile',
      'keep.log',
      'nested',
      'nested/trace.log',
      'src',
      'src/main.py',
      'src/util',
      'src/util/helpers.py',
    ]);
    await a.cleanup();
  });
});

test('re-inclusion below an excluded directory; an excluded Dockerfile and .dockerignore are left out', async () => {
  await withDirs(async (ctx, out) => {
    await makeTree(ctx, {
      '.dockerignore': 'cache\n!cache/sub/keep.txt\nDockerfile\n.dockerignore\nbuild\n',
      Dockerfile: 'FROM scratch\n',
      'cache/drop.txt': 'x',
      'cache/sub/keep.txt': 'keep',
      'cache/sub/drop.txt': 'x',
      'build/out.bin': 'x',
      'empty/': '',
      'main.txt': 'm',
    });
    const a = await createContextArchive(ctx, { tmpDir: out });
    // Docker sends an excluded Dockerfile/.dockerignore but hides them from COPY; the builder
    // gets the Dockerfile from the spec, so leaving them out gives Docker's observable result.
    assert.deepEqual(a.entries, ['cache', 'cache/sub', 'cache/sub/keep.txt', 'empty', 'main.txt']);
    await a.cleanup();
  });
});

test('Dockerfile-specific ignore file replaces the context .dockerignore', async () => {
  await withDirs(async (ctx, out) => {
    await makeTree(ctx, {
      '.dockerignore': 'a.txt\n',
      'app/Dockerfile': 'FROM scratch\n',
      'app/Dockerfile.dockerignore': 'b.txt\napp/Dockerfile*\n',
      'a.txt': 'a',
      'b.txt': 'b',
    });
    const a = await createContextArchive(ctx, { tmpDir: out, dockerfilePath: path.join(ctx, 'app', 'Dockerfile') });
    assert.deepEqual(a.entries, ['.dockerignore', 'a.txt', 'app']);
    assert.equal(a.ignoreFile, path.join(ctx, 'app', 'Dockerfile.dockerignore'));
    await a.cleanup();
  });
});

test('deterministic: same tree in two places, different mtimes/owners/umask → identical bytes and digests; headers zeroed', async () => {
  const tree = {
    'b.txt': 'bee',
    'a-b/x': 'dash',
    'a/x.txt': 'a-x',
    'a/y/z.sh': '#!/bin/sh\necho hi\n',
    'a.txt': 'dot',
    'empty/': '',
    'ü/é.txt': 'unicode',
  };
  const make = async (root: string, variant: number) => {
    await makeTree(root, tree);
    await fsp.chmod(path.join(root, 'a/y/z.sh'), variant ? 0o700 : 0o755);
    await fsp.chmod(path.join(root, 'b.txt'), variant ? 0o600 : 0o664);
    await fsp.chmod(path.join(root, 'a'), variant ? 0o700 : 0o775);
    await fsp.symlink('a/x.txt', path.join(root, 'link'));
    const when = variant ? new Date('2001-02-03T04:05:06Z') : new Date('2024-06-07T08:09:10Z');
    for (const rel of [...Object.keys(tree), 'a/y', 'a']) await fsp.utimes(path.join(root, rel), when, when);
    if (process.getuid?.() === 0 && variant) {
      for (const rel of Object.keys(tree)) await fsp.lchown(path.join(root, rel), 1234, 4321);
    }
  };
  await withDirs(async (ctx1, out) => {
    const ctx2 = await mkTmp('ctx-other-');
    try {
      await make(ctx1, 0);
      await make(ctx2, 1);
      const a1 = await createContextArchive(ctx1, { tmpDir: out });
      const a2 = await createContextArchive(ctx2, { tmpDir: out });
      assert.notEqual(a1.path, a2.path);
      assert.equal(a1.digest, a2.digest);
      assert.equal(a1.archiveDigest, a2.archiveDigest);
      assert.match(a1.digest, /^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(await fsp.readFile(a1.path), await fsp.readFile(a2.path));
      assert.equal(a1.compressedBytes, (await fsp.stat(a1.path)).size);
      assert.equal(a1.uncompressedBytes, (await rawTar(a1.path)).length);
      // digest is the sha256 of the uncompressed tar stream
      const { createHash } = await import('node:crypto');
      assert.equal(
        a1.digest,
        `sha256:${createHash('sha256')
          .update(await rawTar(a1.path))
          .digest('hex')}`,
      );
      assert.equal(
        a1.archiveDigest,
        `sha256:${createHash('sha256')
          .update(await fsp.readFile(a1.path))
          .digest('hex')}`,
      );

      // sorted by UTF-8 byte order, directories before their contents
      const sorted = [...a1.entries].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      assert.deepEqual(a1.entries, sorted);
      assert.deepEqual(a1.entries, ['a', 'a-b', 'a-b/x', 'a.txt', 'a/x.txt', 'a/y', 'a/y/z.sh', 'b.txt', 'empty', 'link', 'ü', 'ü/é.txt']);

      const read = await readArchive(a1.path);
      const modes: Record<string, number> = {};
      for (const { header } of read) {
        assert.equal(header.uid, 0);
        assert.equal(header.gid, 0);
        assert.equal(header.uname, '');
        assert.equal(header.gname, '');
        assert.equal(header.mtime.getTime(), 0);
        modes[header.name] = header.mode;
      }
      assert.equal(modes['a/'], 0o755);
      assert.equal(modes['a/y/z.sh'], 0o755);
      assert.equal(modes['b.txt'], 0o644);
      assert.equal(modes['link'], 0o777);
      assert.equal(read.find((e) => e.header.name === 'ü/é.txt')?.data.toString(), 'unicode');

      // the same context archived again gives the same bytes; a different gzip level changes only archiveDigest
      const again = await createContextArchive(ctx1, { tmpDir: out });
      assert.equal(again.archiveDigest, a1.archiveDigest);
      const level6 = await createContextArchive(ctx1, { tmpDir: out, gzipLevel: 6 });
      assert.equal(level6.digest, a1.digest);
      assert.notEqual(level6.archiveDigest, a1.archiveDigest);
      for (const a of [a1, a2, again, level6]) await a.cleanup();
    } finally {
      await fsp.rm(ctx2, { recursive: true, force: true });
    }
  });
});

test('symlinks are archived as links (target verbatim), never followed; outside bytes never enter the archive', async () => {
  await withDirs(async (ctx, out) => {
    const outside = await mkTmp('ctx-outside-');
    try {
      const secret = 'OUTSIDE-SECRET-7f3a9c-do-not-archive';
      await fsp.writeFile(path.join(outside, 'secret.txt'), secret);
      await fsp.mkdir(path.join(outside, 'dir'));
      await fsp.writeFile(path.join(outside, 'dir', 'inner.txt'), secret);
      await makeTree(ctx, { 'real.txt': 'real', 'sub/file.txt': 'sub' });
      await fsp.symlink(path.join(outside, 'secret.txt'), path.join(ctx, 'abs-outside'));
      await fsp.symlink(path.relative(ctx, path.join(outside, 'secret.txt')), path.join(ctx, 'rel-outside'));
      await fsp.symlink(path.join(outside, 'dir'), path.join(ctx, 'dir-outside'));
      await fsp.symlink('real.txt', path.join(ctx, 'inside'));
      await fsp.symlink('sub', path.join(ctx, 'sub-link'));
      await fsp.symlink('does/not/exist', path.join(ctx, 'dangling'));
      const longTarget = `${'t'.repeat(150)}/${'u'.repeat(150)}`;
      await fsp.symlink(longTarget, path.join(ctx, 'long-target'));

      const a = await createContextArchive(ctx, { tmpDir: out });
      assert.equal(a.symlinkCount, 7);
      assert.equal(a.fileCount, 2);
      assert.deepEqual(a.entries, [
        'abs-outside',
        'dangling',
        'dir-outside',
        'inside',
        'long-target',
        'real.txt',
        'rel-outside',
        'sub',
        'sub-link',
        'sub/file.txt',
      ]);
      const raw = await rawTar(a.path);
      assert.equal(raw.includes(Buffer.from(secret)), false, 'the outside file content must not be in the archive');
      const read = await readArchive(a.path);
      const byName = new Map(read.map((e) => [e.header.name, e.header]));
      assert.equal(byName.get('abs-outside')?.type, 'symlink');
      assert.equal(byName.get('abs-outside')?.linkname, path.join(outside, 'secret.txt'));
      assert.equal(byName.get('rel-outside')?.linkname, path.relative(ctx, path.join(outside, 'secret.txt')));
      assert.equal(byName.get('dir-outside')?.linkname, path.join(outside, 'dir'));
      assert.equal(byName.get('inside')?.linkname, 'real.txt');
      assert.equal(byName.get('dangling')?.linkname, 'does/not/exist');
      assert.equal(byName.get('long-target')?.linkname, longTarget);
      assert.equal(byName.get('sub-link')?.type, 'symlink');
      assert.equal(byName.has('sub-link/file.txt'), false, 'a link to a directory is not descended into');
      await a.cleanup();
    } finally {
      await fsp.rm(outside, { recursive: true, force: true });
    }
  });
});

test('FIFOs and sockets are skipped and reported, never opened (no hang)', async () => {
  await withDirs(async (ctx, out) => {
    await makeTree(ctx, { 'a.txt': 'a', '.dockerignore': 'ignored.fifo\n' });
    execFileSync('mkfifo', [path.join(ctx, 'pipe'), path.join(ctx, 'ignored.fifo')]);
    const server = net.createServer();
    const sock = path.join(ctx, 's.sock');
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      const a = await createContextArchive(ctx, { tmpDir: out });
      assert.deepEqual(a.entries, ['.dockerignore', 'a.txt']);
      assert.deepEqual(a.skipped, [
        { path: 'pipe', reason: 'FIFO (named pipe): not archived' },
        { path: 's.sock', reason: 'socket: not archived' },
      ]);
      const scan = await scanContext(ctx);
      assert.deepEqual(scan.skipped, a.skipped);
      await a.cleanup();
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

test('unreadable file: a clear error naming the file and suggesting .dockerignore; temp file removed', async () => {
  await withDirs(async (ctx, out) => {
    await makeTree(ctx, { 'a.txt': 'a', 'private/key.pem': 'secret' });
    const target = path.join(ctx, 'private', 'key.pem');
    const asRoot = process.getuid?.() === 0;
    const original = archiveTestHooks.openFile;
    if (asRoot) {
      // root reads through mode 000, so simulate the EACCES the kernel gives other users
      archiveTestHooks.openFile = (p, flags) => {
        if (p === target) throw Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: 'EACCES' });
        return original(p, flags);
      };
    } else {
      await fsp.chmod(target, 0o000);
    }
    try {
      await assert.rejects(createContextArchive(ctx, { tmpDir: out }), (e: unknown) => {
        isCtxError(/^Cannot read build context file: private\/key\.pem \(permission denied\)$/)(e);
        assert.match((e as ActionError).advice.join(' '), /\.dockerignore/);
        return true;
      });
      expect(await fsp.readdir(out)).toStrictEqual([]); // the partial archive is removed
      // excluding it fixes the build
      await fsp.writeFile(path.join(ctx, '.dockerignore'), 'private\n');
      const a = await createContextArchive(ctx, { tmpDir: out });
      assert.deepEqual(a.entries, ['.dockerignore', 'a.txt']);
      await a.cleanup();
    } finally {
      archiveTestHooks.openFile = original;
      await fsp.chmod(target, 0o644).catch(() => {});
    }
  });
});

// Skipped when running as root, which can list any directory; the name says so in the report.
(process.getuid?.() === 0 ? test.skip : test)('unreadable directory (non-root only: root can list any directory)', async () => {
  await withDirs(async (ctx, out) => {
    await makeTree(ctx, { 'locked/x': 'x', 'a.txt': 'a' });
    await fsp.chmod(path.join(ctx, 'locked'), 0o000);
    try {
      await assert.rejects(
        createContextArchive(ctx, { tmpDir: out }),
        isCtxError(/^Cannot read build context directory: locked \(permission denied\)$/),
      );
    } finally {
      await fsp.chmod(path.join(ctx, 'locked'), 0o755);
    }
  });
});

test('a file that grows or shrinks while archiving → "changed while archiving" with expected and read sizes', async () => {
  await withDirs(async (ctx, out) => {
    await makeTree(ctx, { 'a.txt': 'a', 'big.bin': 'x'.repeat(100_000) });
    // the 0 % progress event comes after the walk and before any file is read
    let first = true;
    await assert.rejects(
      createContextArchive(ctx, {
        tmpDir: out,
        onProgress: () => {
          if (first) appendFileSync(path.join(ctx, 'big.bin'), 'GROWN');
          first = false;
        },
      }),
      isCtxError(/^Build context file changed while archiving: big\.bin \(expected 100000, read 100005\)$/),
    );
    expect(await fsp.readdir(out)).toStrictEqual([]);

    first = true;
    await assert.rejects(
      createContextArchive(ctx, {
        tmpDir: out,
        onProgress: () => {
          if (first) truncateSync(path.join(ctx, 'big.bin'), 50_000);
          first = false;
        },
      }),
      isCtxError(/^Build context file changed while archiving: big\.bin \(expected 100005, read 50000\)$/),
    );
    expect(await fsp.readdir(out)).toStrictEqual([]);
  });
});

test('a file replaced by a symlink after the walk is not followed', async () => {
  await withDirs(async (ctx, out) => {
    await makeTree(ctx, { 'f.txt': 'short' });
    let first = true;
    await assert.rejects(
      createContextArchive(ctx, {
        tmpDir: out,
        onProgress: () => {
          if (!first) return;
          first = false;
          const p = path.join(ctx, 'f.txt');
          unlinkSync(p);
          symlinkSync('/etc/hostname', p);
        },
      }),
      isCtxError(/^Build context file changed while archiving: f\.txt \(it is no longer a regular file\)$/),
    );
  });
});

test('a directory swapped for a symlink to outside the context after the walk is not read through (device and inode checked)', async () => {
  await withDirs(async (ctx, out) => {
    const outside = await mkTmp('ctx-outside-');
    try {
      // same name and size inside and outside: only the inode tells them apart
      await makeTree(ctx, { Dockerfile: 'FROM scratch\n', 'conf/passwd': 'inside:x:0:0\n' });
      await makeTree(outside, { passwd: 'SECRET:x:0:0\n' });
      let first = true;
      await assert.rejects(
        createContextArchive(ctx, {
          tmpDir: out,
          onProgress: () => {
            if (!first) return;
            first = false; // the 0 % event: after the walk, before any file is read
            renameSync(path.join(ctx, 'conf'), path.join(ctx, 'conf.orig'));
            symlinkSync(outside, path.join(ctx, 'conf'));
          },
        }),
        isCtxError(/^Build context file changed while archiving: conf\/passwd \(it is no longer the file that was walked\)$/),
      );
      expect(await fsp.readdir(out)).toStrictEqual([]); // no archive is left behind
    } finally {
      await fsp.rm(outside, { recursive: true, force: true });
    }
  });
});

test('long paths (> 100 and > 255 bytes) round-trip, also through the system tar', async () => {
  await withDirs(async (ctx, out) => {
    const d1 = 'd'.repeat(120);
    const d2 = 'e'.repeat(140);
    const f = `${'f'.repeat(200)}.txt`;
    const mid = `${d1}/${'m'.repeat(90)}.txt`; // > 100 bytes, fits ustar prefix/name
    const deep = `${d1}/${d2}/${f}`; // > 255 bytes: pax
    await makeTree(ctx, { [mid]: 'mid', [deep]: 'deep' });
    const a = await createContextArchive(ctx, { tmpDir: out });
    assert.deepEqual(a.entries, [d1, `${d1}/${d2}`, deep, mid]);
    const read = await readArchive(a.path);
    assert.deepEqual(
      read.map((e) => e.header.name),
      [`${d1}/`, `${d1}/${d2}/`, deep, mid],
    );
    assert.equal(read.find((e) => e.header.name === deep)?.data.toString(), 'deep');
    // GNU tar must read it too; a machine without a system tar fails here rather than skipping the check
    const listing = execFileSync('tar', ['-tzf', a.path], { encoding: 'utf8' });
    assert.deepEqual(listing.trim().split('\n'), [`${d1}/`, `${d1}/${d2}/`, deep, mid]);
    await a.cleanup();
  });
});

test('file names that are not valid UTF-8: a clear error naming the directory and the escaped bytes, unless excluded', async () => {
  await withDirs(async (ctx, out) => {
    await makeTree(ctx, { 'data/ok.txt': 'ok' });
    const bad = Buffer.concat([
      Buffer.from(path.join(ctx, 'data') + '/'),
      Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]),
    ]);
    await fsp.writeFile(bad, 'latin-1 name');
    await assert.rejects(
      createContextArchive(ctx, { tmpDir: out }),
      isCtxError(/^Build context file name is not valid UTF-8: "bad\\xff\\xfe\.bin" in directory data$/),
    );
    await assert.rejects(scanContext(ctx), isCtxError(/not valid UTF-8/));
    expect(await fsp.readdir(out)).toStrictEqual([]);
    // a wildcard in .dockerignore can exclude it (bad bytes are matched as U+FFFD)
    await fsp.writeFile(path.join(ctx, '.dockerignore'), 'data/*.bin\n');
    const a = await createContextArchive(ctx, { tmpDir: out });
    assert.deepEqual(a.entries, ['.dockerignore', 'data', 'data/ok.txt']);
    await a.cleanup();
    // so can excluding the directory (it is then not even walked)
    await fsp.writeFile(path.join(ctx, '.dockerignore'), 'data\n');
    const b = await createContextArchive(ctx, { tmpDir: out });
    assert.deepEqual(b.entries, ['.dockerignore']);
    await b.cleanup();
  });
});

test('empty context: a valid empty archive, one 100 % progress event', async () => {
  await withDirs(async (ctx, out) => {
    const events: ArchiveProgress[] = [];
    const a = await createContextArchive(ctx, { tmpDir: out, onProgress: (p) => events.push(p) });
    assert.deepEqual(a.entries, []);
    assert.equal(a.fileCount + a.dirCount + a.symlinkCount, 0);
    assert.equal(a.uncompressedBytes, 1024); // two zero blocks
    assert.deepEqual(await readArchive(a.path), []);
    assert.deepEqual(events, [{ phase: 'archive', files: 0, totalFiles: 0, bytes: 0, totalBytes: 0, percent: 100 }]);
    await a.cleanup();
  });
});

test('context missing, not a directory, or the filesystem root → clear errors', async () => {
  const missing = path.join(os.tmpdir(), 'definitely-missing-ctx-dir-xyz');
  await assert.rejects(createContextArchive(missing), isCtxError(/^Local build context not found: .*definitely-missing-ctx-dir-xyz$/));
  await assert.rejects(scanContext(missing), isCtxError(/^Local build context not found: /));
  await withDirs(async (ctx) => {
    const file = path.join(ctx, 'file');
    await fsp.writeFile(file, 'x');
    await assert.rejects(createContextArchive(file), isCtxError(/^Local build context not found: /));
    const rootLink = path.join(ctx, 'root-link');
    await fsp.symlink('/', rootLink);
    await assert.rejects(createContextArchive(rootLink), isCtxError(/^Refusing to use the filesystem root as the build context/));
  });
  await assert.rejects(createContextArchive('/'), isCtxError(/^Refusing to use the filesystem root as the build context: \/$/));
});

test('output directory inside the context: never archives its own output', async () => {
  await withDirs(async (ctx) => {
    await makeTree(ctx, {
      'a.txt': 'a',
      'tensorlake-build-context-stale.tar.gz': 'old',
      'sub/tensorlake-build-context-x.tar.gz': 'user file elsewhere',
    });
    const a = await createContextArchive(ctx, { tmpDir: ctx });
    assert.equal(path.dirname(a.path), ctx);
    assert.deepEqual(a.entries, ['a.txt', 'sub', 'sub/tensorlake-build-context-x.tar.gz']);
    assert.deepEqual(
      a.skipped.map((s) => s.path),
      ['tensorlake-build-context-stale.tar.gz'],
    );
    // a second run with the first archive still there: same digest
    const b = await createContextArchive(ctx, { tmpDir: ctx });
    assert.equal(b.digest, a.digest);
    await a.cleanup();
    await b.cleanup();
  });
});

test('abort: rejects as cancelled promptly and removes the temp file', async () => {
  await withDirs(async (ctx, out) => {
    const tree: Record<string, string> = {};
    for (let i = 0; i < 50; i++) tree[`f${i}.bin`] = 'z'.repeat(200_000);
    await makeTree(ctx, tree);
    const ac = new AbortController();
    let events = 0;
    await assert.rejects(
      createContextArchive(ctx, {
        tmpDir: out,
        signal: ac.signal,
        onProgress: (p) => {
          events++;
          if (p.files >= 3) ac.abort(new Error('user cancelled'));
        },
      }),
      isCtxError(/^the run was cancelled while archiving the build context$/, 'cancelled'),
    );
    assert.ok(events < 60);
    expect(await fsp.readdir(out)).toStrictEqual([]);
    // already aborted: nothing is created
    await assert.rejects(createContextArchive(ctx, { tmpDir: out, signal: AbortSignal.abort() }), isCtxError(/cancelled/, 'cancelled'));
    expect(await fsp.readdir(out)).toStrictEqual([]);
  });
});

test('progress: starts at 0, monotonic, throttled to integer percent steps, ends at 100 with all files', async () => {
  await withDirs(async (ctx, out) => {
    const tree: Record<string, string> = {};
    for (let i = 0; i < 20; i++) tree[`f${String(i).padStart(2, '0')}.bin`] = 'q'.repeat(300_000 + i);
    tree['empty.txt'] = '';
    await makeTree(ctx, tree);
    const events: ArchiveProgress[] = [];
    const a = await createContextArchive(ctx, { tmpDir: out, onProgress: (p) => events.push(p) });
    assert.equal(events[0].percent, 0);
    assert.equal(events[0].files, 0);
    assert.equal(events[0].bytes, 0);
    const last = events[events.length - 1];
    assert.deepEqual(last, {
      phase: 'archive',
      files: 21,
      totalFiles: 21,
      bytes: last.totalBytes,
      totalBytes: 20 * 300_000 + 190,
      percent: 100,
    });
    for (let i = 1; i < events.length; i++) {
      assert.ok(
        events[i].percent > events[i - 1].percent || i === events.length - 1,
        'each event raises the percent (or is the final one)',
      );
      assert.ok(events[i].bytes >= events[i - 1].bytes);
      assert.ok(events[i].files >= events[i - 1].files);
    }
    assert.ok(events.length <= 102);
    assert.equal(events.filter((e) => e.percent === 100).length, 1);
    await a.cleanup();
  });
});

test('scanContext lists what the archive would contain, without writing anything', async () => {
  await withDirs(async (ctx, out) => {
    await makeTree(ctx, { '.dockerignore': '*.tmp\n', 'a.txt': 'abc', 'x.tmp': 'x', 'd/b.txt': 'hello' });
    await fsp.symlink('a.txt', path.join(ctx, 'l'));
    const scan = await scanContext(ctx);
    assert.deepEqual(
      scan.entries.map((e) => ({ path: e.path, type: e.type, size: e.size })),
      [
        { path: '.dockerignore', type: 'file', size: 6 },
        { path: 'a.txt', type: 'file', size: 3 },
        { path: 'd', type: 'dir', size: 0 },
        { path: 'd/b.txt', type: 'file', size: 5 },
        { path: 'l', type: 'symlink', size: 0 },
      ],
    );
    assert.equal(scan.totalBytes, 14);
    const a = await createContextArchive(ctx, { tmpDir: out });
    assert.deepEqual(
      a.entries,
      scan.entries.map((e) => e.path),
    );
    await a.cleanup();
  });
});

test('10k-file context archives quickly with the right counts', async () => {
  await withDirs(async (ctx, out) => {
    for (let d = 0; d < 100; d++) {
      const dir = path.join(ctx, `dir${String(d).padStart(3, '0')}`);
      await fsp.mkdir(dir);
      await Promise.all(Array.from({ length: 100 }, (_, f) => fsp.writeFile(path.join(dir, `file${f}.txt`), `content ${d}/${f}\n`)));
    }
    const t0 = performance.now();
    const a: ContextArchive = await createContextArchive(ctx, { tmpDir: out });
    const ms = performance.now() - t0;
    assert.equal(a.fileCount, 10_000);
    assert.equal(a.dirCount, 100);
    assert.equal(a.entries.length, 10_100);
    const read = await readArchive(a.path);
    assert.equal(read.length, 10_100);
    console.log(`# archived 10k files in ${ms.toFixed(0)} ms (${a.uncompressedBytes} → ${a.compressedBytes} bytes)`);
    assert.ok(ms < 20_000, `took ${ms} ms`);
    await a.cleanup();
  });
});

test('an archive made from an earlier walk (planning) has the same bytes, and still refuses a file replaced since', async () => {
  await withDirs(async (ctx, out) => {
    await makeTree(ctx, { Dockerfile: 'FROM scratch\n', 'a.txt': 'first', 'd/b.txt': 'second' });
    const walk = await scanContext(ctx, { outputDir: out });
    const fresh = await createContextArchive(ctx, { tmpDir: out });
    const reused = await createContextArchive(ctx, { tmpDir: out, walk });
    assert.equal(reused.archiveDigest, fresh.archiveDigest);
    assert.equal(reused.digest, fresh.digest);
    expect(await fsp.readFile(reused.path)).toStrictEqual(await fsp.readFile(fresh.path));
    await fresh.cleanup();
    await reused.cleanup();
    // same name, same size, another inode: the walk no longer describes it
    await fsp.writeFile(path.join(ctx, 'a.new'), 'FIRST');
    await fsp.rename(path.join(ctx, 'a.new'), path.join(ctx, 'a.txt'));
    await assert.rejects(
      createContextArchive(ctx, { tmpDir: out, walk }),
      isCtxError(/^Build context file changed while archiving: a\.txt \(it is no longer the file that was walked\)$/),
    );
    await assert.rejects(
      createContextArchive(out, { tmpDir: out, walk }),
      isCtxError(/^internal error: the walk given is of /, 'internal'),
    );
    expect(await fsp.readdir(out)).toStrictEqual([]);
  });
});

test('a file deleted since the walk is refused as gone, not as a short read', async () => {
  await withDirs(async (ctx, out) => {
    await makeTree(ctx, { Dockerfile: 'FROM scratch\n', 'a.txt': 'first' });
    const walk = await scanContext(ctx, { outputDir: out });
    await fsp.rm(path.join(ctx, 'a.txt'));
    await assert.rejects(
      createContextArchive(ctx, { tmpDir: out, walk }),
      (e: unknown) =>
        isCtxError(/^Build context file changed while archiving: a\.txt \(it was deleted or moved after the context was listed\)$/)(e) &&
        (e as ActionError).advice.every((a) => !/while the action read it/.test(a)),
    );
    expect(await fsp.readdir(out)).toStrictEqual([]);
  });
});
