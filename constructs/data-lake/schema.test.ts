import { ColumnAction, ColumnClassification, ColumnDefinition, Generalization, RawFormat, anonymizationPolicy, curatedColumns, schemaProblems } from './schema';

const C = ColumnClassification;
const A = ColumnAction;

const columns: ColumnDefinition[] = [
  { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
  { name: 'email', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
  { name: 'age', type: 'bigint', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.bucket(10) },
  { name: 'lat', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(2) },
  { name: 'event_time', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('hour') },
  { name: 'ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
  { name: 'item_id', type: 'string', classification: C.NON_PERSONAL },
];

test('a valid schema has no problems', () => {
  expect(schemaProblems('user_events', columns)).toEqual([]);
});

test('curated columns leave out dropped ones and type pseudonyms as strings', () => {
  expect(curatedColumns(columns).map((c) => `${c.name}:${c.type}`)).toEqual([
    'user_id:string', 'age:bigint', 'lat:double', 'event_time:timestamp', 'ip:string', 'item_id:string',
  ]);
});

test('the policy carries every column with its action and rule; non-personal columns default to keep', () => {
  const policy = anonymizationPolicy('user_events', RawFormat.CSV, columns) as { format: string; columns: Array<Record<string, unknown>> };
  expect(policy.format).toBe('csv');
  expect(policy.columns).toHaveLength(7);
  expect(policy.columns[2]).toEqual({ name: 'age', type: 'bigint', classification: 'quasi-identifier', action: 'generalize', rule: { kind: 'bucket', width: 10 } });
  expect(policy.columns[6]).toEqual({ name: 'item_id', type: 'string', classification: 'non-personal', action: 'keep' });
});

test.each<[string, ColumnDefinition, RegExp]>([
  ['a personal column without an action', { name: 'email', type: 'string', classification: C.DIRECT_IDENTIFIER },
    /dataset 'ds' column 'email' is classified direct-identifier but has no action; choose one of: drop, pseudonymize/],
  ['a direct identifier kept as it is', { name: 'email', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.KEEP },
    /column 'email': a direct-identifier column may only drop, pseudonymize, but 'keep' was provided/],
  ['generalize without a rule', { name: 'age', type: 'bigint', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE },
    /column 'age': action generalize needs a generalization rule/],
  ['a rule without generalize', { name: 'age', type: 'bigint', classification: C.QUASI_IDENTIFIER, action: A.KEEP, generalization: Generalization.bucket(5) },
    /column 'age': a generalization rule is given but the action is keep/],
  ['a rule for another type', { name: 'zip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.bucket(5) },
    /column 'zip': rule bucket applies to bigint or double columns, but the column is string/],
  ['a bad rule argument', { name: 'zip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.prefix(0) },
    /column 'zip': prefix length must be a whole number > 0, but 0 was provided/],
  ['a fractional bucket on a bigint', { name: 'age', type: 'bigint', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.bucket(2.5) },
    /column 'age': a bucket width on a bigint column must be a whole number, but 2.5 was provided/],
  ['a bad ip prefix', { name: 'ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix(40) },
    /ipPrefix ipv4Bits must be 0-32, but 40 was provided/],
  ['a non-personal column pseudonymized', { name: 'item', type: 'string', classification: C.NON_PERSONAL, action: A.PSEUDONYMIZE },
    /a non-personal column may only keep, drop, but 'pseudonymize' was provided/],
  ['a bad column name', { name: 'Email', type: 'string', classification: C.NON_PERSONAL },
    /column 'Email': name must be lower case letters/],
  ['the lineage column', { name: 'source_object', type: 'string', classification: C.NON_PERSONAL },
    /column 'source_object': the name is reserved: the lake adds anonymization_window .* and source_object \(the raw object it came from, for erasure\) to every curated table; rename the column to anything but anonymization_window, source_object/],
  ['the window column', { name: 'anonymization_window', type: 'string', classification: C.NON_PERSONAL },
    /column 'anonymization_window': the name is reserved/],
])('reports %s, naming dataset and column', (_case, column, message) => {
  expect(schemaProblems('ds', [column]).join('\n')).toMatch(message);
});

test('reports a duplicate column and a bad dataset name', () => {
  const col: ColumnDefinition = { name: 'a', type: 'string', classification: C.NON_PERSONAL };
  expect(schemaProblems('Bad-Name', [col, col]).join('\n')).toMatch(/dataset name must be lower case.*'Bad-Name'[\s\S]*column 'a' is declared twice/);
});
