import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import { directoryEntries, tarGz, tarGzAsset } from '../../lib/assets';
import { kitApp } from '../support/app';

function extract(archive: Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tarball-test-'));
  fs.writeFileSync(path.join(dir, 'a.tar.gz'), archive);
  fs.mkdirSync(path.join(dir, 'out'));
  execFileSync('tar', ['-xzf', path.join(dir, 'a.tar.gz'), '-C', path.join(dir, 'out')]);
  return path.join(dir, 'out');
}

test('the system tar extracts what tarGz writes, byte for byte, with nested paths and modes', () => {
  const binary = Buffer.from(Array.from({ length: 1500 }, (_, i) => i % 256));
  const out = extract(tarGz([
    { path: 'train.py', content: 'print("hi")\n', mode: 0o755 },
    { path: 'pkg/model.py', content: 'x = 1\n' },
    { path: 'weights.bin', content: binary },
  ]));
  expect(fs.readFileSync(path.join(out, 'train.py'), 'utf8')).toBe('print("hi")\n');
  expect(fs.statSync(path.join(out, 'train.py')).mode & 0o777).toBe(0o755);
  expect(fs.readFileSync(path.join(out, 'pkg/model.py'), 'utf8')).toBe('x = 1\n');
  expect(fs.readFileSync(path.join(out, 'weights.bin')).equals(binary)).toBe(true);
  const listing = execFileSync('tar', ['-tvzf', '-'], { input: tarGz([{ path: 'a', content: 'b' }]) }).toString();
  expect(listing).toMatch(/^-rw-r--r-- 0\/0\s+1 1970-01-01 00:00 a$/m);
});

test('is deterministic whatever the order of entries', () => {
  const a = tarGz([{ path: 'x.py', content: '1' }, { path: 'y.py', content: '2' }]);
  const b = tarGz([{ path: 'y.py', content: '2' }, { path: 'x.py', content: '1' }]);
  expect(a.equals(b)).toBe(true);
});

test.each(['', '/etc/passwd', '../x', 'a/../../b', 'x'.repeat(101)])('refuses the entry path %j', (p) => {
  expect(() => tarGz([{ path: p, content: '' }])).toThrow(/entry path must be relative, without '..', and at most 100 bytes/);
});

test('directoryEntries skips caches and tests; tarGzAsset keeps its hash for the same tree', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tarball-src-'));
  fs.mkdirSync(path.join(dir, '__pycache__'));
  fs.writeFileSync(path.join(dir, '__pycache__', 'x.pyc'), 'junk');
  fs.writeFileSync(path.join(dir, 'train.py'), 'pass\n');
  fs.writeFileSync(path.join(dir, 'test_train.py'), 'pass\n');
  expect(directoryEntries(dir).map((e) => e.path)).toEqual(['train.py']);
  const stack = new Stack(kitApp(), 'S');
  const first = tarGzAsset(stack, 'A', 'sourcedir.tar.gz', directoryEntries(dir));
  const second = tarGzAsset(stack, 'B', 'sourcedir.tar.gz', directoryEntries(dir));
  expect(first.assetHash).toBe(second.assetHash);
  expect(first.s3ObjectKey).toMatch(/\.gz$/);
});
