import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { trainingCodeEntries } from './validation';
import { TRAINING_SUPPORT_MODULES } from '../../lib/workflows';

describe('trainingCodeEntries', () => {
  test('ships the shared training, serving and metrics modules beside the entry point', () => {
    const { entries, problems } = trainingCodeEntries(path.join(__dirname, 'runtime', 'example'), 'train.py');
    expect(problems).toEqual([]);
    const paths = entries.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['train.py', 'inference.py', 'training_io.py', 'serving_io.py', 'ml_metrics.py', 'numpy_nn.py']));
    expect(paths.filter((p) => p.startsWith('test_'))).toEqual([]);
    for (const module of TRAINING_SUPPORT_MODULES) {
      expect(entries.find((e) => e.path === path.basename(module))?.content).toEqual(fs.readFileSync(module));
    }
  });

  test('a file of the same name in the training code wins over the shared module', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'training-code-'));
    fs.writeFileSync(path.join(dir, 'train.py'), 'print("train")\n');
    fs.writeFileSync(path.join(dir, 'ml_metrics.py'), '# own metrics\n');
    const { entries } = trainingCodeEntries(dir, 'train.py');
    expect(entries.filter((e) => e.path === 'ml_metrics.py').map((e) => e.content.toString())).toEqual(['# own metrics\n']);
  });
});
