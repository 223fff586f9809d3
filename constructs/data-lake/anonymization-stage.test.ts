import { insertStatement, stagingPrefix, stagingType } from './anonymization-stage';
import { statesFormat } from '../../lib/workflows';

test('the INSERT appends one staged file, casting timestamps and dates from their text', () => {
  const sql = insertStatement('lake_db', 'events', [
    { name: 'user_id', type: 'string' },
    { name: 'event_time', type: 'timestamp' },
    { name: 'day', type: 'date' },
  ]);
  expect(sql).toMatch(/^INSERT INTO "lake_db"\."events" \("user_id", "event_time", "day"\) SELECT "user_id", COALESCE\(.*from_iso8601_timestamp\("event_time"\).*from_unixtime.*\), COALESCE\(.*from_iso8601_date\("day"\).*\) FROM "lake_db"\."events_staging" WHERE "\$path" = '\{\}'$/);
});

test('staging keeps timestamps and dates as text and everything else typed', () => {
  expect(['string', 'bigint', 'double', 'boolean', 'timestamp', 'date'].map((t) => stagingType(t as never))).toEqual(['string', 'bigint', 'double', 'boolean', 'string', 'string']);
  expect(stagingPrefix('events')).toBe('_staging/events/');
});

test('statesFormat escapes the literal text of a Step Functions intrinsic and keeps the slots', () => {
  expect(statesFormat("SELECT '{}' FROM t WHERE a = 'x\\y'", '$.key')).toBe("States.Format('SELECT \\'{}\\' FROM t WHERE a = \\'x\\\\y\\'', $.key)");
  expect(() => statesFormat('{} and {}', '$.a')).toThrow(/2 slot\(s\) in the template but 1 argument\(s\)/);
});

test('intrinsic literals keep CDK tokens intact, so they resolve in the definition', () => {
  const { Stack, aws_secretsmanager: secrets } = jest.requireActual('aws-cdk-lib');
  const { intrinsicLiteral } = jest.requireActual('../../lib/workflows');
  const stack = new Stack();
  const secret = new secrets.Secret(stack, 'S');
  const resolved = JSON.stringify(stack.resolve(intrinsicLiteral(`--key '${secret.secretArn}'`)));
  expect(resolved).toContain('{"Ref":"S');
  expect(resolved).not.toContain('Token[');
  expect(resolved).toContain("\\\\'");
});
