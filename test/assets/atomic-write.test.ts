import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomically } from '../../lib/assets';

test('a generated file is replaced whole, and nothing else lands beside it (a directory asset hashes its folder)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-write-'));
  const file = path.join(dir, 'code.tar.gz');
  const partials = path.join(os.tmpdir(), 'mlsd-partial');
  const before = fs.existsSync(partials) ? fs.readdirSync(partials).filter((n) => n.startsWith(`${process.pid}-`)) : [];
  writeFileAtomically(file, Buffer.alloc(1 << 20, 1));
  writeFileAtomically(file, 'second');
  expect(fs.readFileSync(file, 'utf8')).toBe('second');
  expect(fs.readdirSync(dir)).toEqual(['code.tar.gz']);
  // No partial file of this process is left behind.
  expect(fs.readdirSync(partials).filter((n) => n.startsWith(`${process.pid}-`))).toEqual(before);
});
