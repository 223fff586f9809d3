import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Writes `content` to `file` so that no reader sees a part of it: into a file of its own in the
 * temporary directory, then renamed over `file` (one filesystem: the rename is atomic). The kit's
 * generated assets live under content-named paths in the shared temporary directory, where several
 * syntheses (jest's workers, two checkouts) write the same file at once. CDK hashes what it reads,
 * and a file read while another synthesis rewrote it gave a template another asset hash. The
 * partial file is not beside `file`, where a directory asset's hash would count it.
 */
export function writeFileAtomically(file: string, content: string | Buffer): void {
  const partials = path.join(os.tmpdir(), 'mlsd-partial');
  fs.mkdirSync(partials, { recursive: true });
  const partial = path.join(partials, `${process.pid}-${crypto.randomUUID()}`);
  fs.writeFileSync(partial, content);
  fs.renameSync(partial, file);
}
