import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { aws_s3_assets as assets } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { writeFileAtomically } from './atomic-write';
import { KitError } from '../errors';

/**
 * Gzipped tarballs built at synth time, without Docker: SageMaker's framework containers want
 * training code as `sourcedir.tar.gz` and models as `model.tar.gz`. The output is deterministic
 * (sorted entries, zero timestamps and owners), so an unchanged tree keeps its asset hash.
 */

/** One file of a tarball. */
export interface TarballEntry {
  /** Path inside the archive, with `/` separators, at most 100 characters. */
  readonly path: string;
  readonly content: string | Buffer;
  /** @default 0o644 */
  readonly mode?: number;
}

function field(text: string, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  buffer.write(text, 'utf8');
  return buffer;
}

function octal(value: number, length: number): Buffer {
  return field(`${value.toString(8).padStart(length - 1, '0')}\0`, length);
}

function header(entry: TarballEntry, size: number): Buffer {
  const block = Buffer.concat([
    field(entry.path, 100), octal(entry.mode ?? 0o644, 8), octal(0, 8), octal(0, 8), octal(size, 12), octal(0, 12),
    Buffer.from('        '), field('0', 1), field('', 100), field('ustar\0', 6), field('00', 2),
    field('', 32), field('', 32), octal(0, 8), octal(0, 8), field('', 155), field('', 12),
  ]);
  const checksum = block.reduce((sum, byte) => sum + byte, 0);
  field(`${checksum.toString(8).padStart(6, '0')}\0 `, 8).copy(block, 148);
  return block;
}

/** A gzipped ustar archive of `entries`. */
export function tarGz(entries: readonly TarballEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of [...entries].sort((a, b) => a.path.localeCompare(b.path))) {
    if (entry.path.length === 0 || Buffer.byteLength(entry.path) > 100 || entry.path.startsWith('/') || entry.path.split('/').includes('..')) {
      throw new KitError(`tarball: entry path must be relative, without '..', and at most 100 bytes, but '${entry.path}' was provided`);
    }
    const content = typeof entry.content === 'string' ? Buffer.from(entry.content, 'utf8') : entry.content;
    blocks.push(header(entry, content.length), content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return zlib.gzipSync(Buffer.concat(blocks), { level: 9 });
}

/** Every file under `dir` as entries (sorted), skipping caches and tests, which do not belong in a container. */
export function directoryEntries(dir: string, prefix = ''): TarballEntry[] {
  return fs.readdirSync(dir, { withFileTypes: true })
    .filter((e) => !['__pycache__', '.pytest_cache', 'node_modules'].includes(e.name) && !/^test_.*\.py$|\.test\.ts$/.test(e.name))
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory()
      ? directoryEntries(path.join(dir, e.name), `${prefix}${e.name}/`)
      : [{ path: `${prefix}${e.name}`, content: fs.readFileSync(path.join(dir, e.name)) }]));
}

/** A file asset holding `fileName` (e.g. `sourcedir.tar.gz`) built from `entries`. */
export function tarGzAsset(scope: Construct, id: string, fileName: string, entries: readonly TarballEntry[]): assets.Asset {
  const archive = tarGz(entries);
  const digest = crypto.createHash('sha256').update(archive).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), 'mlsd-tarballs', digest);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, fileName);
  writeFileAtomically(file, archive);
  return new assets.Asset(scope, id, { path: file });
}
