/**
 * The purge check's code through the real S3 client against moto server's versioned S3: the bucket
 * holds a table's data files in the states the maintenance leaves them in (still current, deleted
 * by VACUUM behind a delete marker with older versions, gone), and the file list is an Athena result
 * of the erasure's `SELECT DISTINCT "$path"`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { InvalidFileListError, PurgeLocation, filesOf, purgeFiles, purgeLocationsOf, sdkPurgeS3 } from './purge-files';
import { LOCAL_CREDENTIALS, MotoServer, startMoto } from '../../../../local/moto';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const REGION = 'eu-west-1';
const CURATED = 'purge-curated';
const OTHER = 'purge-other';
const LOCATIONS: PurgeLocation[] = [
  { bucket: CURATED, pattern: 'events/*' },
  { bucket: CURATED, pattern: 'feature-store/123456789012/sagemaker/eu-west-1/offline-store/user-activity-*' },
];
const LIST_KEY = '_erasure-files/req-hash/iceberg:events.user_id.csv';

let moto: MotoServer;
let s3: S3Client;
const logs: Record<string, unknown>[] = [];
const log = (fields: Readonly<Record<string, unknown>>) => logs.push({ ...fields });

beforeAll(async () => {
  moto = await startMoto({ venv: path.join(REPO_ROOT, '.venv'), logDir: fs.mkdtempSync(path.join(os.tmpdir(), 'purge-moto-')), env: process.env });
  s3 = new S3Client({ region: REGION, endpoint: moto.url, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  for (const bucket of [CURATED, OTHER]) {
    await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  }
}, 90_000);

afterAll(async () => {
  s3?.destroy();
  await moto?.stop();
});

const put = (key: string, body = 'parquet bytes', bucket = CURATED) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
const versionsOf = async (key: string, bucket = CURATED) => {
  const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  return [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].filter((v) => v.Key === key).length;
};
const athenaResult = (uris: string[]) => ['"$path"', ...uris.map((u) => `"${u}"`)].join('\n') + '\n';

test('a file the table still references is left alone; one VACUUM deleted loses every version; the list is done when none is left', async () => {
  const referenced = 'events/data/00001-aaaa.parquet';
  const vacuumed = 'events/data/00002-bbbb.parquet';
  const gone = 'events/data/00003-cccc.parquet';
  const offline = 'feature-store/123456789012/sagemaker/eu-west-1/offline-store/user-activity-1700000000/data/x.parquet';
  await put(referenced);
  // Rewritten twice before VACUUM deleted it: two versions and a delete marker.
  await put(vacuumed, 'v1');
  await put(vacuumed, 'v2');
  await s3.send(new DeleteObjectCommand({ Bucket: CURATED, Key: vacuumed }));
  await put(offline);
  await s3.send(new DeleteObjectCommand({ Bucket: CURATED, Key: offline }));
  // A longer key under the same prefix is another object: never touched.
  await put(`${vacuumed}.crc`);
  await put(LIST_KEY, athenaResult([referenced, vacuumed, gone, offline].map((k) => `s3://${CURATED}/${k}`)));

  const first = await purgeFiles({ listBucket: CURATED, listKey: LIST_KEY }, LOCATIONS, sdkPurgeS3(s3), log);
  expect(first).toEqual({ files: 4, referenced: 1, purged: 3, remaining: 0 });
  expect([await versionsOf(referenced), await versionsOf(vacuumed), await versionsOf(offline), await versionsOf(`${vacuumed}.crc`)]).toEqual([1, 0, 0, 1]);

  // The maintenance rewrites and expires the last one; the next day's check finds nothing left.
  await s3.send(new DeleteObjectCommand({ Bucket: CURATED, Key: referenced }));
  const second = await purgeFiles({ listBucket: CURATED, listKey: LIST_KEY }, LOCATIONS, sdkPurgeS3(s3), log);
  expect(second).toEqual({ files: 4, referenced: 0, purged: 4, remaining: 0 });
  expect(await versionsOf(referenced)).toBe(0);
  // Logs hold counts, never a file.
  expect(JSON.stringify(logs)).not.toMatch(/parquet|events\//);
});

test('a list naming an object outside the registered tables\' files fails before anything is deleted', async () => {
  const inside = 'events/data/00004-dddd.parquet';
  await put(inside);
  await s3.send(new DeleteObjectCommand({ Bucket: CURATED, Key: inside }));
  await put('models/champion.tar.gz', 'model', OTHER);
  const key = '_erasure-files/req-hash/tampered.csv';
  for (const outside of [`s3://${OTHER}/models/champion.tar.gz`, `s3://${CURATED}/monitor/baseline.json`, 'not-a-uri']) {
    await put(key, athenaResult([`s3://${CURATED}/${inside}`, outside]));
    await expect(purgeFiles({ listBucket: CURATED, listKey: key }, LOCATIONS, sdkPurgeS3(s3), log)).rejects.toThrow(InvalidFileListError);
  }
  expect(await versionsOf(inside)).toBe(2);
  expect(await versionsOf('models/champion.tar.gz', OTHER)).toBe(1);
});

test('a missing list, a list that is no $path result, and a request without its fields are refused by name', async () => {
  await expect(purgeFiles({ listBucket: CURATED, listKey: '_erasure-files/none.csv' }, LOCATIONS, sdkPurgeS3(s3), log))
    .rejects.toMatchObject({ name: 'InvalidFileList', message: expect.stringContaining('does not exist') });
  await put('_erasure-files/other.csv', '"user_id"\n"abc"\n');
  await expect(purgeFiles({ listBucket: CURATED, listKey: '_erasure-files/other.csv' }, LOCATIONS, sdkPurgeS3(s3), log))
    .rejects.toMatchObject({ name: 'InvalidFileList', message: expect.stringContaining('"$path"') });
  await expect(purgeFiles({ listBucket: CURATED }, LOCATIONS, sdkPurgeS3(s3), log)).rejects.toMatchObject({ name: 'InvalidFileList', message: expect.stringContaining('listKey') });
});

test('an empty result (the rows were in no file any more) is purged at once', async () => {
  await put('_erasure-files/empty.csv', '"$path"\n');
  expect(await purgeFiles({ listBucket: CURATED, listKey: '_erasure-files/empty.csv' }, LOCATIONS, sdkPurgeS3(s3), log)).toEqual({ files: 0, referenced: 0, purged: 0, remaining: 0 });
});

test('the file list reader: quotes, duplicates, CRLF; patterns match whole keys', () => {
  const uri = `s3://${CURATED}/events/data/a"b.parquet`;
  expect(filesOf(`"$path"\r\n"${uri.replace('"', '""')}"\r\n"${uri.replace('"', '""')}"\r\n`, LOCATIONS)).toEqual([{ bucket: CURATED, key: 'events/data/a"b.parquet' }]);
  expect(() => filesOf(`"$path"\n"s3://${CURATED}/eventsX/data/a.parquet"\n`, LOCATIONS)).toThrow(InvalidFileListError);
  expect(purgeLocationsOf(JSON.stringify(LOCATIONS))).toEqual(LOCATIONS);
  expect(() => purgeLocationsOf('[{"bucket":1}]')).toThrow(InvalidFileListError);
});
