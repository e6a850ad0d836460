import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ActionError } from '../../../src/errors.js';
import {
  MAX_DOCKERFILE_BYTES,
  decodeDockerfile,
  planDockerfile,
  planErrorLine,
  planImport,
  type BuildPlan,
} from '../../../src/dockerfile/plan.js';
import { parseDockerfile } from '../../../src/dockerfile/parse.js';

const DF = '/tmp/example/Dockerfile';
const plan = (text: string, name?: string): BuildPlan => planDockerfile({ text, dockerfilePath: DF, contextDir: '/tmp/example', name });
const lines = (...l: string[]): string => l.join('\n') + '\n';

/** Asserts that planning fails with an ActionError of kind `plan` and exactly this message. */
function planFails(text: string, message: string | RegExp): ActionError {
  let caught: unknown;
  try {
    plan(text);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ActionError, `expected an ActionError, got ${String(caught)}`);
  assert.equal(caught.kind, 'plan');
  if (typeof message === 'string') assert.equal(caught.message, message);
  else assert.match(caught.message, message);
  return caught;
}

const kinds = (p: BuildPlan): Array<[string, number | undefined]> => p.warnings.map((w) => [w.kind, w.line]);

// ---------------------------------------------------------------------------------------------
// §2.2 test pin and logical lines

test('§2.2 pin: continuation joined, numbered by its first physical line', () => {
  const parsed = parseDockerfile('FROM ubuntu\nRUN echo one \\\n  && echo two\n');
  assert.deepEqual(
    parsed.instructions.map((i) => [i.line, i.keyword, i.args.join(' ')]),
    [
      [1, 'FROM', 'ubuntu'],
      [2, 'RUN', 'echo one   && echo two'], // continuation lines keep their indentation, as in BuildKit
    ],
  );
  assert.equal(parsed.instructions[1].endLine, 3);
  assert.deepEqual(plan('FROM ubuntu\nRUN echo one \\\n  && echo two\n').stats, { instructions: 2, stages: 1 });
});

test('departure: a comment and a blank line inside a continuation are skipped, the instruction goes on', () => {
  const text = lines('FROM ubuntu', 'RUN a && \\', '# note', '', '  b', 'COPY --from=tools/x:1 /a /b');
  const parsed = parseDockerfile(text);
  assert.deepEqual(
    parsed.instructions.map((i) => [i.line, i.keyword, i.args.join(' ')]),
    [
      [1, 'FROM', 'ubuntu'],
      [2, 'RUN', 'a &&   b'],
      [6, 'COPY', '/a /b'],
    ],
  );
  // The reference would have produced a bogus instruction `b`; here nothing is unknown.
  assert.deepEqual(plan(text).additionalRefs, ['tools/x:1']);
});

test('departure: # escape=` makes the backtick the continuation character', () => {
  const text = lines(
    '# escape=`',
    'FROM mcr.microsoft.com/windows/servercore:ltsc2022',
    'RUN dir C:\\ `',
    '  && echo done',
    'COPY --from=tools/x:1 C:\\a C:\\b',
  );
  const parsed = parseDockerfile(text);
  assert.equal(parsed.escape, '`');
  assert.deepEqual(
    parsed.instructions.map((i) => [i.line, i.keyword]),
    [
      [2, 'FROM'],
      [3, 'RUN'],
      [5, 'COPY'],
    ],
  );
  assert.equal(parsed.instructions[1].endLine, 4);
  assert.deepEqual(plan(text).additionalRefs, ['tools/x:1']);
  // Without the directive, line 3 does not continue and line 4 is a bogus instruction.
  assert.equal(parseDockerfile(text.replace('# escape=`\n', '\n')).escape, '\\');
  planFails(text.replace('# escape=`\n', '\n'), 'line 4: unknown instruction: &&');
});

test('escape directive after an unknown directive is a comment (Docker stops reading directives)', () => {
  const text = lines('# foo=bar', '# escape=`', 'FROM x', 'RUN a `', 'COPY --from=img:1 a b');
  const parsed = parseDockerfile(text);
  assert.equal(parsed.escape, '\\');
  assert.deepEqual(
    parsed.instructions.map((i) => i.line),
    [3, 4, 5],
  );
  assert.deepEqual(plan(text).additionalRefs, ['img:1']);
});

test('escape directive after `# syntax=` is honoured; a blank line first makes it a comment', () => {
  assert.equal(parseDockerfile(lines('# syntax=docker/dockerfile:1', '# escape=`', 'FROM x')).escape, '`');
  assert.equal(parseDockerfile(lines('', '# escape=`', 'FROM x')).escape, '\\');
});

test('invalid or repeated escape directives are errors, like Docker', () => {
  planFails(lines('# escape=x', 'FROM a'), "line 1: invalid escape token 'x' does not match ` or \\");
  planFails(lines('# escape=`', '# escape=\\', 'FROM a'), 'line 2: only one escape parser directive can be used');
});

test('an escaped escape character at the end of a line does not continue it (BuildKit)', () => {
  const parsed = parseDockerfile(lines('FROM x', 'RUN echo \\\\', 'COPY --from=img:1 a b'));
  assert.deepEqual(
    parsed.instructions.map((i) => [i.line, i.keyword]),
    [
      [1, 'FROM'],
      [2, 'RUN'],
      [3, 'COPY'],
    ],
  );
});

// ---------------------------------------------------------------------------------------------
// Heredocs

test('departure: RUN heredoc is one instruction; its body is not parsed as instructions', () => {
  const text = lines('FROM ubuntu:24.04', 'RUN <<EOF', 'apt-get update', 'FROM bogus', 'COPY --from=nope a b', 'EOF', 'LABEL a=b');
  const p = plan(text);
  assert.equal(p.baseImage, 'ubuntu:24.04');
  assert.deepEqual(p.additionalRefs, []);
  assert.deepEqual(p.stats, { instructions: 3, stages: 1 });
  assert.deepEqual(kinds(p), [['ignored-instruction', 7]]);
  const run = parseDockerfile(text).instructions[1];
  assert.deepEqual([run.line, run.endLine], [2, 6]);
});

test('departure: COPY heredoc is one instruction; --from inside the body is not a flag', () => {
  const text = lines('FROM python:3.12-slim', 'COPY <<EOF /etc/app.conf', '--from=evil:1', 'FROM x', 'EOF', 'COPY --from=tools/y:2 /a /b');
  const p = plan(text);
  assert.deepEqual(p.additionalRefs, ['tools/y:2']);
  assert.equal(p.baseImage, 'python:3.12-slim');
  assert.deepEqual(p.stats, { instructions: 3, stages: 1 });
});

test('heredocs: <<- with tabs, several heredocs, quoted name, ONBUILD RUN heredoc', () => {
  const text = lines(
    'FROM x',
    'RUN <<-EOT bash',
    '\tFROM no',
    '\tEOT',
    'RUN <<A cat && <<"B" cat',
    'FROM no',
    'A',
    'FROM no',
    'B',
    'ONBUILD RUN <<EOF',
    'FROM no',
    'EOF',
    'FROM y',
  );
  const p = plan(text);
  assert.equal(p.baseImage, 'y');
  assert.deepEqual(p.additionalRefs, ['x']);
  assert.deepEqual(p.stats, { instructions: 5, stages: 2 });
  assert.deepEqual(kinds(p), [['ignored-instruction', 10]]);
});

test('<<EOF inside quotes or after an escape is not a heredoc', () => {
  const p = plan(lines('FROM x', 'RUN echo "use <<EOF here"', "RUN echo 'a <<EOF'", 'RUN echo \\<<EOF', 'FROM y'));
  assert.equal(p.baseImage, 'y');
  assert.deepEqual(p.additionalRefs, ['x']);
  assert.deepEqual(p.stats, { instructions: 5, stages: 2 });
});

test('a file-descriptor heredoc (3<<EOF) is a heredoc', () => {
  const p = plan(lines('FROM x', 'RUN cat 3<<EOF', 'FROM bogus', 'EOF', 'COPY --from=img:1 a b'));
  assert.equal(p.baseImage, 'x');
  assert.deepEqual(p.additionalRefs, ['img:1']);
  assert.deepEqual(p.stats, { instructions: 3, stages: 1 });
});

test('heredoc in JSON form is not a heredoc', () => {
  const p = plan(lines('FROM x', 'RUN ["cat", "<<EOF"]', 'FROM y'));
  assert.equal(p.baseImage, 'y');
});

test('an unterminated heredoc is an error with the instruction line', () => {
  planFails(lines('FROM x', 'RUN <<EOF', 'echo hi'), "line 2: unterminated heredoc '<<EOF': no line 'EOF' closes it");
  planFails(lines('FROM x', 'COPY <<A <<B /dst/', 'a', 'A'), /^line 2: unterminated heredoc '<<B'/);
});

test('heredocs with CRLF line endings', () => {
  const p = plan('FROM x\r\nRUN <<EOF\r\nFROM no\r\nEOF\r\nCOPY --from=img:1 a b\r\n');
  assert.deepEqual(p.additionalRefs, ['img:1']);
  assert.deepEqual(p.stats, { instructions: 3, stages: 1 });
});

// ---------------------------------------------------------------------------------------------
// §2.5 pinned examples

test('§2.5 table: demoted earlier FROM; build is internal', () => {
  const p = plan(lines('FROM ubuntu:24.04 AS build', 'RUN make', 'FROM python:3.12-slim', 'COPY --from=build /out /app'));
  assert.equal(p.baseImage, 'python:3.12-slim');
  assert.deepEqual(p.additionalRefs, ['ubuntu:24.04']);
  assert.equal(p.baseImageIsInternalStage, false);
  assert.deepEqual(p.lookupRefs, ['python:3.12-slim', 'ubuntu:24.04']);
});

test('§2.5 table: COPY --from an image is collected (load_dockerfile_plan_collects_copy_from_image_references)', () => {
  const p = plan(lines('FROM python:3.12-slim', 'COPY --from=tensorlake/utility:1.0 /bin/u /usr/bin/u', 'COPY src/ /app/'));
  assert.equal(p.baseImage, 'python:3.12-slim');
  assert.deepEqual(p.additionalRefs, ['tensorlake/utility:1.0']);
});

test('§2.5 table: same image everywhere → no additional refs (dedupes_image_references_across_stages)', () => {
  const p = plan(lines('FROM python:3.12-slim AS prep', 'FROM python:3.12-slim', 'COPY --from=python:3.12-slim /a /b'));
  assert.equal(p.baseImage, 'python:3.12-slim');
  assert.deepEqual(p.additionalRefs, []);
  assert.deepEqual(p.lookupRefs, ['python:3.12-slim']);
});

test('§2.5 table: final FROM is a stage (flags_final_from_stage_alias)', () => {
  const p = plan(lines('FROM ubuntu:24.04 AS base', 'RUN make', 'FROM base', 'RUN ls'));
  assert.equal(p.baseImage, 'base');
  assert.deepEqual(p.additionalRefs, ['ubuntu:24.04']);
  assert.equal(p.baseImageIsInternalStage, true);
  assert.deepEqual(p.lookupRefs, ['ubuntu:24.04'], 'an internal stage is not looked up (§2.6)');
});

test('§2.5 table: ARG + FROM python:${PY_TAG} → one build-arg warning (accepts_arg_at_top_level)', () => {
  const p = plan(lines('ARG PY_TAG=3.12-slim', 'FROM python:${PY_TAG}'));
  assert.equal(p.baseImage, 'python:${PY_TAG}');
  assert.deepEqual(p.additionalRefs, []);
  assert.deepEqual(p.lookupRefs, []);
  assert.deepEqual(p.warnings, [
    {
      kind: 'build-arg-reference',
      line: 2,
      message:
        "line 2: image reference 'python:${PY_TAG}' contains a build-arg expansion that is not resolved at planning time; the build will pull it from the configured registry instead of using a Tensorlake template",
    },
  ]);
});

test('§2.5 table: digest-pinned FROM → one digest warning (warns_on_digest_pinned_from)', () => {
  const p = plan(lines('FROM python:3.12-slim@sha256:abc'));
  assert.equal(p.baseImage, 'python:3.12-slim@sha256:abc');
  assert.deepEqual(p.additionalRefs, []);
  assert.deepEqual(p.lookupRefs, []);
  assert.equal(p.warnings.length, 1);
  assert.equal(p.warnings[0].kind, 'digest-pinned-reference');
  assert.equal(p.warnings[0].line, 1);
  assert.match(p.warnings[0].message, /^line 1: image reference 'python:3\.12-slim@sha256:abc' is pinned to a content digest/);
  assert.match(p.warnings[0].message, /instead of using a Tensorlake template$/);
});

test('§2.5 ordering note: demotion happens at the next FROM → [x, a]', () => {
  const p = plan(lines('FROM a AS s', 'COPY --from=x /a /b', 'FROM b'));
  assert.equal(p.baseImage, 'b');
  assert.deepEqual(p.additionalRefs, ['x', 'a']);
  assert.deepEqual(p.lookupRefs, ['b', 'x', 'a']);
});

test('§2.5: scratch is never demoted nor collected; forward references are external', () => {
  const p = plan(lines('FROM scratch AS s0', 'COPY --from=SCRATCH /a /b', 'COPY --from=later /a /b', 'FROM alpine AS later'));
  assert.deepEqual(p.additionalRefs, ['later']);
});

test('§2.5: demotion skips $, @, aliases and duplicates', () => {
  const p = plan(lines('FROM img:${V}', 'FROM img@sha256:abc AS one', 'FROM one AS two', 'FROM base:1', 'FROM base:1', 'FROM final:1'));
  assert.deepEqual(p.additionalRefs, ['base:1']);
  assert.deepEqual(kinds(p), [
    ['build-arg-reference', 1],
    ['digest-pinned-reference', 2],
  ]);
});

test('§2.5: base image removed from the additional refs', () => {
  const p = plan(lines('FROM python:3.12-slim', 'COPY --from=ubuntu:24.04 /a /b', 'FROM ubuntu:24.04'));
  assert.equal(p.baseImage, 'ubuntu:24.04');
  assert.deepEqual(p.additionalRefs, ['python:3.12-slim']);
});

test('departure from §2.6: scratch as the final base is not looked up (it is no registry image), like everywhere else', () => {
  assert.deepEqual(plan(lines('FROM scratch', 'COPY a /a')).lookupRefs, []);
  assert.deepEqual(plan(lines('FROM alpine:3 AS b', 'FROM SCRATCH', 'COPY --from=b /a /a')).lookupRefs, ['alpine:3']);
  assert.equal(plan(lines('FROM scratch')).baseImage, 'scratch');
});

test('departure: stage aliases compare case-insensitively, like Docker', () => {
  const p = plan(
    lines('FROM golang:1.22 AS Build', 'FROM alpine:3', 'COPY --from=BUILD /out /app', 'RUN --mount=from=build,target=/x true'),
  );
  assert.deepEqual(p.additionalRefs, ['golang:1.22']);
  const q = plan(lines('FROM ubuntu:24.04 AS Base', 'FROM base'));
  assert.equal(q.baseImageIsInternalStage, true);
  assert.deepEqual(q.additionalRefs, ['ubuntu:24.04']);
});

test('departure: numeric --from=0 is a stage index (internal), not an image', () => {
  const p = plan(
    lines('FROM golang:1.22', 'RUN go build', 'FROM alpine:3', 'COPY --from=0 /out /app', 'RUN --mount=type=bind,from=1,target=/x true'),
  );
  assert.deepEqual(p.additionalRefs, ['golang:1.22']);
});

test('COPY --from: only leading flags count; quotes removed; bare --from is an error', () => {
  const p = plan(lines('FROM x', 'COPY a --from=not-a-flag b', 'COPY --chown=1:1 --from="img:1" a b'));
  assert.deepEqual(p.additionalRefs, ['img:1']);
  planFails(lines('FROM x', 'COPY --from img a b'), "line 2: missing value for Dockerfile flag '--from' (write --from=<stage or image>)");
  assert.deepEqual(plan(lines('FROM x', 'COPY --from= a b')).additionalRefs, []);
});

test('RUN --mount=type=cache,from=img,target=/x collects img; any mount type; quoted CSV fields; case-insensitive keys', () => {
  const p = plan(
    lines(
      'FROM x',
      'RUN --mount=type=cache,from=img,target=/x make',
      'RUN --network=none --mount=type=bind,"from=img2:1",target=/y --mount=type=secret,id=s,FROM=Img3 make',
      'RUN echo --mount=from=not-a-flag',
    ),
  );
  assert.deepEqual(p.additionalRefs, ['img', 'img2:1', 'Img3']);
});

// ---------------------------------------------------------------------------------------------
// §2.4 FROM parsing

test('§2.4: --platform flag is discarded; FROM --platform=$BUILDPLATFORM x AS y', () => {
  const p = plan(
    lines('FROM --platform=$BUILDPLATFORM golang:1.22 AS build', 'FROM --platform=linux/amd64 alpine:3', 'COPY --from=build /a /b'),
  );
  assert.equal(p.baseImage, 'alpine:3');
  assert.deepEqual(p.additionalRefs, ['golang:1.22']);
  assert.deepEqual(p.warnings, [], 'the platform value is not an image reference');
});

test('§2.4: quoted FROM image has its quotes removed; AS is case-insensitive; tabs separate', () => {
  const p = plan(lines('FROM "ubuntu:24.04" as build', "FROM\t'python:3.12-slim'\tAS\tfinal"));
  assert.equal(p.baseImage, 'python:3.12-slim');
  assert.deepEqual(p.additionalRefs, ['ubuntu:24.04']);
});

test('§2.4 errors with line numbers', () => {
  planFails(lines('ARG X', '', 'FROM'), 'line 3: FROM must include a base image');
  planFails(lines('FROM a b'), "line 1: unsupported FROM syntax 'a b'");
  planFails(lines('FROM a x b'), "line 1: unsupported FROM syntax 'a x b'");
  planFails(lines('FROM x', 'FROM a AS'), 'line 2: FROM ... AS must include a stage name');
  planFails(lines('FROM "ubuntu'), `line 1: invalid FROM syntax '"ubuntu'`);
  planFails(lines('FROM --platform=linux/amd64'), /^line 1: invalid Dockerfile flag syntax: --platform=linux\/amd64/);
  planFails(lines('FROM --platform'), /^line 1: missing value for Dockerfile flag '--platform'/);
});

test('§2.4 errors span continuation lines and report the first line', () => {
  planFails(lines('FROM x', 'FROM \\', '  a \\', '  b'), "line 2: unsupported FROM syntax 'a b'");
});

test('departure: FROM checks Docker applies (extra tokens, --flag value, unknown flag, stage name)', () => {
  planFails(lines('FROM a AS b c'), "line 1: unsupported FROM syntax 'a AS b c'");
  planFails(
    lines('FROM --platform linux/amd64 alpine'),
    "line 1: missing value for Dockerfile flag '--platform' (write --platform=<value>)",
  );
  planFails(lines('FROM --foo=bar alpine'), "line 1: unknown flag '--foo' for FROM (only --platform is allowed)");
  planFails(lines('FROM alpine AS 1st'), "line 1: invalid name for build stage: '1st', name can't start with a number or contain symbols");
  planFails(lines('FROM alpine AS "b"'), /^line 1: invalid name for build stage: '"b"'/);
  planFails(lines('FROM ubuntu # not a comment'), "line 1: unsupported FROM syntax 'ubuntu # not a comment'");
});

test('Dockerfile must contain a FROM instruction', () => {
  planFails(lines('ARG A=1', 'ARG B'), 'Dockerfile must contain a FROM instruction');
  planFails(lines('RUN echo hi'), 'Dockerfile must contain a FROM instruction');
});

// ---------------------------------------------------------------------------------------------
// §2.3 classification, warnings and their line numbers

test('collects_ignored_instructions: all seven keywords in order, one warning each, text verbatim', () => {
  const text = lines(
    'FROM python:3.12-slim',
    'ONBUILD RUN echo hi',
    'SHELL ["/bin/bash", "-c"]',
    'EXPOSE 8080',
    'HEALTHCHECK CMD curl -f http://localhost/',
    'LABEL org.example=1',
    'STOPSIGNAL SIGTERM',
    'VOLUME /data',
  );
  const p = plan(text);
  assert.equal(p.dockerfileText, text);
  assert.deepEqual(
    p.warnings.map((w) => [w.kind, w.line, w.message]),
    ['ONBUILD', 'SHELL', 'EXPOSE', 'HEALTHCHECK', 'LABEL', 'STOPSIGNAL', 'VOLUME'].map((k, i) => [
      'ignored-instruction',
      i + 2,
      `${k} instruction is applied during the build but has no effect when sandboxes run from the image`,
    ]),
  );
});

test('accepts_onbuild_and_shell (lower-case keywords too)', () => {
  const p = plan(lines('from python:3.12-slim', 'onbuild run echo hi', 'shell ["/bin/sh", "-c"]'));
  assert.deepEqual(kinds(p), [
    ['ignored-instruction', 2],
    ['ignored-instruction', 3],
  ]);
  assert.match(p.warnings[0].message, /^ONBUILD instruction/);
});

test('accepts_user_cmd_entrypoint and the other silent instructions', () => {
  const p = plan(
    lines(
      'ARG V=1',
      'FROM python:3.12-slim',
      'ENV A=b',
      'WORKDIR /app',
      'ADD x /x',
      'USER nobody',
      'CMD ["python"]',
      'ENTRYPOINT ["tini", "--"]',
    ),
  );
  assert.deepEqual(p.warnings, []);
  assert.deepEqual(p.stats, { instructions: 8, stages: 1 });
});

test('load_dockerfile_plan_reads_base_image_and_name', () => {
  const p = plan(lines('FROM python:3.12-slim', 'RUN pip install requests'));
  assert.equal(p.mode, 'dockerfile');
  assert.equal(p.baseImage, 'python:3.12-slim');
  assert.equal(p.name, 'example');
  assert.equal(p.dockerfilePath, DF);
  assert.equal(p.contextDir, '/tmp/example');
  assert.equal(p.importImageReference, undefined);
  assert.deepEqual(p.warnings, []);
});

test('load_dockerfile_plan_accepts_multistage_builds', () => {
  const p = plan(
    lines(
      'FROM node:20 AS web',
      'RUN npm ci',
      'FROM python:3.12-slim AS api',
      'RUN true',
      'FROM python:3.12-slim',
      'COPY --from=web /a /b',
      'COPY --from=api /c /d',
    ),
  );
  assert.equal(p.baseImage, 'python:3.12-slim');
  assert.deepEqual(p.additionalRefs, ['node:20']);
  assert.deepEqual(p.stats, { instructions: 7, stages: 3 });
});

test('load_dockerfile_plan_treats_copy_from_stage_as_internal', () => {
  assert.deepEqual(plan(lines('FROM alpine:3 AS tools', 'FROM alpine:3', 'COPY --from=tools /a /b')).additionalRefs, []);
});

test('load_dockerfile_text_plan_uses_explicit_context_without_file', () => {
  const p = planDockerfile({
    text: 'FROM ubuntu:24.04\n',
    dockerfilePath: '/nonexistent/ctx/Dockerfile',
    contextDir: 'relative/ctx',
    name: 'my-image',
  });
  assert.equal(p.name, 'my-image');
  assert.equal(p.contextDir, path.resolve('relative/ctx'));
  assert.ok(path.isAbsolute(p.contextDir ?? ''));
  assert.equal(p.baseImage, 'ubuntu:24.04');
});

test('explicit blank name falls back to the default name', () => {
  assert.equal(plan('FROM a\n', '  ').name, 'example');
});

test('a line number on every warning kind', () => {
  const p = plan(
    lines(
      'ARG TAG=1',
      'FROM base:1 AS b',
      'COPY --from=tools:${TAG} /a /b',
      'RUN --mount=type=bind,from=img@sha256:abc,target=/x true',
      'MAINTAINER someone@example.com',
      'EXPOSE 80',
      'FROM b',
    ),
  );
  assert.deepEqual(kinds(p), [
    ['build-arg-reference', 3],
    ['digest-pinned-reference', 4],
    ['deprecated', 5],
    ['ignored-instruction', 6],
  ]);
  assert.match(p.warnings[0].message, /^line 3: image reference 'tools:\$\{TAG\}' contains a build-arg expansion/);
  assert.match(p.warnings[1].message, /^line 4: image reference 'img@sha256:abc' is pinned to a content digest/);
  assert.match(p.warnings[2].message, /^MAINTAINER instruction is deprecated/);
});

test('departure: unknown instruction is an error, with its line', () => {
  const e = planFails(lines('FROM x', '', 'FOO bar'), 'line 3: unknown instruction: FOO');
  assert.equal(planErrorLine(e), 3);
  planFails(lines('FROM x', 'RUN a', 'EOF'), 'line 3: unknown instruction: EOF');
});

test('departure: only ARG may come before the first FROM', () => {
  planFails(lines('ARG A', 'RUN echo', 'FROM x'), 'line 2: RUN instruction before the first FROM: only ARG may come before FROM');
});

test('departure: ONBUILD forms Docker rejects', () => {
  planFails(lines('FROM x', 'ONBUILD FROM y'), "line 2: FROM isn't allowed as an ONBUILD trigger");
  planFails(lines('FROM x', 'ONBUILD ONBUILD RUN y'), "line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  planFails(lines('FROM x', 'ONBUILD'), 'line 2: ONBUILD requires at least one argument');
});

// ---------------------------------------------------------------------------------------------
// Text-level: CRLF, BOM, lone CR, empty, binary, size, UTF-8

test('CRLF line endings: same plan, same line numbers', () => {
  const text = 'FROM ubuntu:24.04 AS b\r\nRUN a \\\r\n  b\r\nLABEL x=y\r\nFROM python:3.12-slim\r\n';
  const p = plan(text);
  assert.equal(p.baseImage, 'python:3.12-slim');
  assert.deepEqual(p.additionalRefs, ['ubuntu:24.04']);
  assert.deepEqual(kinds(p), [['ignored-instruction', 4]]);
  assert.equal(p.dockerfileText, text);
});

test('BOM: ignored for parsing (directive still honoured), kept in the text sent', () => {
  const text = '\uFEFF# escape=`\nFROM x\nRUN a `\n  b\nEXPOSE 80\n';
  const p = plan(text);
  assert.equal(p.baseImage, 'x');
  assert.deepEqual(kinds(p), [['ignored-instruction', 5]]);
  assert.equal(p.dockerfileText, text);
  assert.ok(p.dockerfileText.startsWith('\uFEFF'));
});

test('a lone CR is not a line break (BuildKit splits on LF only)', () => {
  planFails('FROM x\rCOPY --from=img a b\n', "line 1: unsupported FROM syntax 'x COPY --from=img a b'");
  assert.deepEqual(kinds(plan('FROM x\nRUN a\rb\nEXPOSE 1\n')), [['ignored-instruction', 3]]);
});

test('empty, whitespace-only and comment-only files are errors', () => {
  planFails('', 'Dockerfile is empty');
  planFails(' \n\t\r\n', 'Dockerfile is empty');
  planFails('\uFEFF', 'Dockerfile is empty');
  planFails(
    '# syntax=docker/dockerfile:1\n# just a comment\n',
    'Dockerfile has no instructions (only comments, parser directives or blank lines)',
  );
});

test('binary file (NUL byte) is an error naming its line', () => {
  const e = planFails('FROM x\nRUN a\0b\n', 'line 2: Dockerfile contains a NUL byte: it looks like a binary file, not a Dockerfile');
  assert.ok(e.advice.length > 0);
  assert.throws(() => decodeDockerfile(new Uint8Array([0x46, 0x0a, 0x0a, 0x00])), /^ActionError: line 3: Dockerfile contains a NUL byte/);
});

test('a file larger than 1 MiB is an error naming the limit; exactly 1 MiB is accepted', () => {
  const head = 'FROM x\n';
  const comment = `${'#'.repeat(1023)}\n`; // lines stay under BuildKit's 64 KiB line limit
  const body = comment.repeat(Math.floor((MAX_DOCKERFILE_BYTES - head.length) / 1024));
  const exact = head + body + '#'.repeat(MAX_DOCKERFILE_BYTES - head.length - body.length - 1) + '\n';
  assert.equal(Buffer.byteLength(exact), MAX_DOCKERFILE_BYTES);
  assert.equal(plan(exact).baseImage, 'x');
  planFails(exact + '#', 'Dockerfile is too large: 1.00 MiB (1048577 bytes); the limit is 1 MiB (1048576 bytes)');
  planFails('FROM x\n' + '#'.repeat(3 * 1024 * 1024), /^Dockerfile is too large: 3\.00 MiB \(3145735 bytes\); the limit is 1 MiB/);
  assert.throws(() => decodeDockerfile(new Uint8Array(MAX_DOCKERFILE_BYTES + 1)), /too large: .* the limit is 1 MiB/);
});

test('invalid UTF-8 is an error naming its line; a lone surrogate in text too', () => {
  const bytes = Buffer.concat([Buffer.from('FROM x\nRUN ok\nRUN '), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]);
  let caught: unknown;
  try {
    decodeDockerfile(bytes);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ActionError);
  assert.equal(caught.kind, 'plan');
  assert.equal(caught.message, 'line 3: Dockerfile is not valid UTF-8 text');
  planFails('FROM x\nRUN \uD800\n', 'line 2: Dockerfile is not valid UTF-8 text');
});

test('decodeDockerfile keeps a BOM and multi-byte text verbatim', () => {
  const text = '\uFEFFFROM x\nRUN echo héllo ✓\n';
  const decoded = decodeDockerfile(Buffer.from(text, 'utf8'));
  assert.equal(decoded, text);
  assert.equal(plan(decoded).dockerfileText, text);
});

// ---------------------------------------------------------------------------------------------
// §2.8 import planning

test('plan_image_import_synthesizes_from_and_marks_import', () => {
  const p = planImport({ reference: '  ubuntu:24.04 ' });
  assert.deepEqual(p, {
    mode: 'import',
    dockerfileText: 'FROM ubuntu:24.04\n',
    baseImage: 'ubuntu:24.04',
    baseImageIsInternalStage: false,
    additionalRefs: [],
    lookupRefs: [],
    importImageReference: 'ubuntu:24.04',
    name: 'ubuntu',
    warnings: [],
    stats: { instructions: 1, stages: 1 },
  });
});

test('plan_image_import_honors_explicit_name_and_rejects_empty', () => {
  assert.equal(planImport({ reference: 'ubuntu:24.04', name: 'base-os' }).name, 'base-os');
  for (const reference of ['', '   ']) {
    assert.throws(
      () => planImport({ reference }),
      (e: unknown) => e instanceof ActionError && e.kind === 'input' && e.message === 'image reference to import must not be empty',
    );
  }
});

test('departure: an import reference with whitespace is rejected (it would inject Dockerfile lines)', () => {
  assert.throws(
    () => planImport({ reference: 'ubuntu\nRUN curl evil' }),
    (e: unknown) => e instanceof ActionError && e.kind === 'input' && /must not contain whitespace/.test(e.message),
  );
});

test('planErrorLine: undefined when no line is known', () => {
  assert.equal(planErrorLine(planFails(lines('ARG A'), 'Dockerfile must contain a FROM instruction')), undefined);
});

test('flags spread over continuation lines (with a comment between) are still flags', () => {
  const p = plan(
    lines(
      'FROM x',
      'RUN --mount=type=cache,target=/x \\',
      '# cache',
      '    --mount=from=img,target=/y \\',
      '  make',
      'COPY \\',
      '  --from=img2 \\',
      '  a b',
    ),
  );
  assert.deepEqual(p.additionalRefs, ['img', 'img2']);
  assert.deepEqual(p.stats, { instructions: 3, stages: 1 });
});

// ---------------------------------------------------------------------------------------------
// BuildKit's parser where the earlier parser (a wrapper of the dockerfile-ast library) read files differently

test('partly quoted heredoc names (<<EO"F", <<eo\'f\') end at their terminator: the next stage is planned', () => {
  for (const [open, close] of [
    ['<<EO"F"', 'EOF'],
    ["<<eo'f'", 'eof'],
    ['<<"E"OF', 'EOF'],
  ]) {
    const p = plan(lines('FROM golang:1.22 AS build', `RUN ${open}`, 'echo hi', close, 'FROM alpine:3.20', 'COPY --from=build /a /a'));
    assert.equal(p.baseImage, 'alpine:3.20', open);
    assert.deepEqual(p.additionalRefs, ['golang:1.22'], open);
    assert.equal(p.stats.stages, 2, open);
  }
});

test('whitespace after << is a heredoc (dockerfile/1.16+): its body is not parsed as instructions', () => {
  for (const op of ['<< EOF', '<<  EOF > /f', '<< -EOF']) {
    const name = op.includes('-EOF') ? '-EOF' : 'EOF';
    const parsed = parseDockerfile(lines('FROM alpine', `RUN cat ${op}`, 'FROM nope', 'USER x', name, 'RUN true'));
    assert.deepEqual(
      parsed.instructions.map((i) => [i.keyword, i.line, i.endLine]),
      [
        ['FROM', 1, 1],
        ['RUN', 2, 5],
        ['RUN', 6, 6],
      ],
      op,
    );
    assert.equal(parsed.instructions[1].heredocs[0].content, 'FROM nope\nUSER x\n', op);
  }
  assert.equal(plan(lines('FROM alpine', 'RUN << EOF', 'FROM evil', 'EOF')).baseImage, 'alpine');
});

test('parse errors BuildKit raises fail planning with their line', () => {
  planFails(lines('FROM alpine', '', 'ENV PATH'), 'line 3: ENV must have two arguments');
  planFails(lines('FROM alpine', 'LABEL maintainer'), 'line 2: LABEL must have two arguments');
  planFails(lines('FROM alpine', 'LABEL a=b c'), 'line 2: Syntax error - can\'t find = in "c". Must be of the form: name=value');
  planFails(lines('FROM alpine', 'CMD ["echo", 1]'), 'line 2: when using JSON array syntax, arrays must be comprised of strings only');
  planFails(lines('FROM alpine', 'RUN ["sh", ["-c"]]'), 'line 2: when using JSON array syntax, arrays must be comprised of strings only');
  planFails(
    lines('FROM alpine', 'ENTRYPOINT ["a", null]'),
    'line 2: when using JSON array syntax, arrays must be comprised of strings only',
  );
  planFails(
    lines('FROM alpine', 'RUN true', `LABEL x=${'a'.repeat(64 * 1024)}`),
    'line 3: dockerfile line greater than max allowed size of 65535',
  );
  // just under the limit is fine
  assert.equal(plan(lines('FROM alpine', `LABEL x=${'a'.repeat(64 * 1024 - 9)}`)).baseImage, 'alpine');
});

test('a line holding only the escape character continues the instruction', () => {
  const parsed = parseDockerfile(lines('FROM alpine', 'RUN echo a \\', '\\', '  && echo b'));
  assert.deepEqual(
    parsed.instructions.map((i) => [i.keyword, i.line, i.endLine, i.args]),
    [
      ['FROM', 1, 1, ['alpine']],
      ['RUN', 2, 4, ['echo a   && echo b']],
    ],
  );
  const first = parseDockerfile(lines('FROM alpine', '\\', 'RUN true'));
  assert.deepEqual(
    first.instructions.map((i) => [i.keyword, i.line]),
    [
      ['FROM', 1],
      ['RUN', 2],
    ],
  );
});

test('COPY -- --from=x y: -- ends the flags, so x is no image reference', () => {
  const p = plan(lines('FROM alpine', 'COPY -- --from=x y /dst'));
  assert.deepEqual(p.additionalRefs, []);
  const ins = parseDockerfile(lines('FROM alpine', 'COPY --chown=1 -- --from=x y /dst')).instructions[1];
  assert.deepEqual(ins.flags, [{ name: 'chown', value: '1', raw: '1' }]);
  assert.deepEqual(ins.args, ['--from=x', 'y', '/dst']);
  assert.deepEqual(plan(lines('FROM alpine', 'COPY --from=tools:1 -- a b')).additionalRefs, ['tools:1']);
});

test('arguments are the text as written: no placeholder characters', () => {
  const args = (l: string): string[] => parseDockerfile(lines('FROM alpine', l)).instructions[1].args;
  assert.deepEqual(args('RUN echo "<<-" x'), ['echo "<<-" x']);
  assert.deepEqual(args("RUN echo '<<EOF'"), ["echo '<<EOF'"]);
  assert.deepEqual(args('RUN echo \\\\'), ['echo \\\\']);
  assert.deepEqual(args('COPY a\\\\ /b'), ['a\\\\', '/b']);
  const fd = parseDockerfile(lines('FROM alpine', 'RUN 4<<EOF cat /dev/fd/4', 'x', 'EOF')).instructions[1];
  assert.deepEqual(fd.args, ['4<<EOF cat /dev/fd/4']);
  assert.equal(fd.heredocs[0].fileDescriptor, 4);
  const chomp = parseDockerfile(lines('FROM alpine', 'RUN cat <<-EOF', '\tx', '\tEOF')).instructions[1];
  assert.deepEqual(chomp.args, ['cat <<-EOF']);
  assert.equal(chomp.endLine, 4);
});

test('an instruction whose continuation runs to the end of the file ends on the last line', () => {
  for (const text of ['FROM alpine\nRUN echo a \\\n  b \\\n', 'FROM alpine\nRUN echo a \\\n  b \\', 'FROM alpine\nRUN echo a \\\n\n']) {
    const parsed = parseDockerfile(text);
    const physical = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
    assert.equal(parsed.instructions[1].endLine, physical, JSON.stringify(text));
  }
});

test('COPY and ADD without a destination fail planning as Docker fails them; heredoc and JSON forms count their arguments', () => {
  const message = (k: string, line: number) =>
    `line ${line}: ${k} requires at least two arguments, but only one was provided. Destination could not be determined`;
  planFails(lines('FROM x', 'COPY'), message('COPY', 2));
  planFails(lines('FROM x', 'COPY app.py'), message('COPY', 2));
  planFails(lines('FROM x', 'RUN true', 'ADD --chmod=644 \\', '  app.py'), message('ADD', 3));
  planFails(lines('FROM x', 'COPY ["app.py"]'), message('COPY', 2));
  assert.equal(plan(lines('FROM x', 'COPY <<EOF /app/f', 'hello', 'EOF')).warnings.length, 0);
  assert.equal(plan(lines('FROM x', 'COPY ["a b", "/app/"]', 'ADD --chown=1 a /b')).warnings.length, 0);
});

test('an empty continuation line is a deprecation warning on its instruction, as Docker warns', () => {
  const p = plan(lines('FROM x', 'RUN apt-get update && \\', '', '    apt-get install -y curl', 'RUN a \\', '  b'));
  assert.deepEqual(kinds(p), [['deprecated', 2]]);
  assert.match(p.warnings[0].message, /^line 2: empty continuation line in this RUN instruction; .*will become errors/);
  assert.ok(!p.warnings[0].message.includes('apt-get'), 'the instruction text is not repeated');
  // in line order with the other warnings
  const mixed = plan(lines('FROM x', 'EXPOSE 80', 'RUN a \\', '', '  b', 'MAINTAINER me'));
  assert.deepEqual(
    kinds(mixed).map(([, line]) => line),
    [2, 3, 6],
  );
});
