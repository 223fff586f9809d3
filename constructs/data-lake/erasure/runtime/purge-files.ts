/**
 * The file-level proof of an Iceberg table's erasure. Before its DELETE, the erasure workflow saved
 * the table's data files that held the subject's rows (Athena's `$path`, one `s3://` URI per line
 * of a CSV under the request's hash). The DELETE only hid those rows behind delete files; the
 * table's maintenance rewrites the files (OPTIMIZE) and, once the snapshots that reference them are
 * older than the table's snapshot age, VACUUM deletes them. Athena's VACUUM reports success even
 * when it could not delete, so the deadline check invokes this function each day until the listing
 * of the bucket shows that no version of any such file is left:
 *
 * - a file with a current version is still referenced by the table: left alone, counted `referenced`;
 * - a file without one (VACUUM deleted it: a delete marker, or nothing, in the versioned bucket) is
 *   no longer part of any snapshot: every version and delete marker of it is deleted, then listed
 *   again; counted `purged` when none is left, else `remaining`.
 *
 * A file outside the locations the erasure registered (each Iceberg store's bucket and object
 * pattern) fails the whole list (`InvalidFileList`) before anything is deleted: a list is data in
 * a bucket, and this function's deletes must stay within the tables' files.
 *
 * Privacy: the list holds file names (random UUIDs), not identifiers; logs carry counts only.
 */
import {
  DeleteObjectsCommand, GetObjectCommand, ListObjectVersionsCommand, type ListObjectVersionsCommandOutput, S3Client,
} from '@aws-sdk/client-s3';
import { athenaColumn, eachAtMost } from '../../../../lib/runtime/athena-results';

/** Where a registered Iceberg store's files are: a bucket and a key pattern in which `*` matches anything. */
export interface PurgeLocation {
  readonly bucket: string;
  readonly pattern: string;
}

/** What the deadline check sends: where the list of files is. */
export interface PurgeInput {
  readonly listBucket: string;
  readonly listKey: string;
}

export interface PurgeOutput {
  /** Files in the list. */
  readonly files: number;
  /** Files the table still references (a current version exists): the maintenance has not removed them yet. */
  readonly referenced: number;
  /** Files of which no version is left. */
  readonly purged: number;
  /** Files not referenced any more whose versions could not all be deleted: the next check retries them. */
  readonly remaining: number;
}

/** What the purge needs of S3. */
export interface PurgeS3 {
  readList(bucket: string, key: string): Promise<string>;
  /** Every version and delete marker of exactly `key`. */
  versions(bucket: string, key: string): Promise<ObjectVersion[]>;
  deleteVersions(bucket: string, key: string, versionIds: string[]): Promise<void>;
}

export interface ObjectVersion {
  readonly versionId: string;
  /** The current version (a delete marker that is latest means the object is deleted). */
  readonly isLatest: boolean;
  readonly isDeleteMarker: boolean;
}

/** The input or the list is not one this function can act on; the message names what, never a file. */
export class InvalidFileListError extends Error {
  override readonly name = 'InvalidFileList';
}

/** Files checked at once: each takes a list request, and a delete and a list more when it is purged. */
export const PURGE_CONCURRENCY = 16;
/** S3's DeleteObjects takes at most 1,000 keys per request. */
const DELETE_BATCH = 1000;

/** The locations of the function's environment (`PURGE_LOCATIONS`, JSON). */
export function purgeLocationsOf(text: string | undefined): PurgeLocation[] {
  const parsed: unknown = JSON.parse(text ?? '[]');
  if (!Array.isArray(parsed) || parsed.some((l) => typeof l?.bucket !== 'string' || typeof l?.pattern !== 'string')) {
    throw new InvalidFileListError('PURGE_LOCATIONS must be a JSON list of { bucket, pattern }');
  }
  return parsed as PurgeLocation[];
}

function purgeInputOf(input: unknown): PurgeInput {
  const spec = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const problems = ['listBucket', 'listKey'].filter((f) => typeof spec[f] !== 'string' || spec[f] === '').map((f) => `${f} must be a non-empty string`);
  if (problems.length > 0) {
    throw new InvalidFileListError(`the purge request cannot be acted on: ${problems.join('; ')}`);
  }
  return spec as unknown as PurgeInput;
}

/** A glob of S3 keys (`*` matches any characters, `/` included, as in IAM resource patterns). */
function matches(pattern: string, key: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return regex.test(key);
}

/**
 * The files of an Athena result of `SELECT DISTINCT "$path"`: a header `$path`, then one
 * `s3://bucket/key` per row, once each. Every file must be in one of `locations`.
 */
export function filesOf(csv: string, locations: readonly PurgeLocation[]): { bucket: string; key: string }[] {
  const values = athenaColumn(csv, (problem) => new InvalidFileListError(`the file list ${problem} (it is not the result of the erasure's file query)`), '$path');
  const files = values.map((value, index) => {
    const uri = /^s3:\/\/([^/]+)\/(.+)$/.exec(value);
    if (uri === null) {
      throw new InvalidFileListError(`line ${index + 2} of the file list is not an s3:// URI of an object`);
    }
    const [, bucket, key] = uri;
    if (!locations.some((l) => l.bucket === bucket && matches(l.pattern, key))) {
      throw new InvalidFileListError(`line ${index + 2} of the file list names an object outside the registered Iceberg tables' files`);
    }
    return { bucket, key };
  });
  return [...new Map(files.map((f) => [`${f.bucket}/${f.key}`, f])).values()];
}

type FileOutcome = 'referenced' | 'purged' | 'remaining';

async function purgeFile(s3: PurgeS3, bucket: string, key: string): Promise<FileOutcome> {
  const versions = await s3.versions(bucket, key);
  if (versions.some((v) => v.isLatest && !v.isDeleteMarker)) {
    return 'referenced';
  }
  if (versions.length === 0) {
    return 'purged';
  }
  for (let i = 0; i < versions.length; i += DELETE_BATCH) {
    await s3.deleteVersions(bucket, key, versions.slice(i, i + DELETE_BATCH).map((v) => v.versionId));
  }
  return (await s3.versions(bucket, key)).length === 0 ? 'purged' : 'remaining';
}

/** Checks (and finishes) the purge of every file of the list. */
export async function purgeFiles(input: unknown, locations: readonly PurgeLocation[], s3: PurgeS3, log: (fields: Readonly<Record<string, unknown>>) => void): Promise<PurgeOutput> {
  const request = purgeInputOf(input);
  const files = filesOf(await s3.readList(request.listBucket, request.listKey), locations);
  const counts: Record<FileOutcome, number> = { referenced: 0, purged: 0, remaining: 0 };
  await eachAtMost(files, PURGE_CONCURRENCY, async (file) => {
    counts[await purgeFile(s3, file.bucket, file.key)] += 1;
  });
  const output = { files: files.length, ...counts };
  log({ level: 'INFO', message: 'erased rows\' files checked', ...output });
  return output;
}

/** The S3 calls, on an SDK client. */
export function sdkPurgeS3(client: S3Client): PurgeS3 {
  return {
    async readList(bucket, key) {
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return await object.Body!.transformToString('utf-8');
      } catch (error) {
        if ((error as { name?: string }).name === 'NoSuchKey') {
          throw new InvalidFileListError('the file list does not exist (a request\'s lists are kept under its hash until it is purged)');
        }
        throw error;
      }
    },
    async versions(bucket, key) {
      const found: ObjectVersion[] = [];
      let page: ListObjectVersionsCommandOutput | undefined;
      do {
        page = await client.send(new ListObjectVersionsCommand({
          Bucket: bucket, Prefix: key, KeyMarker: page?.NextKeyMarker, VersionIdMarker: page?.NextVersionIdMarker,
        }));
        // A prefix also matches longer keys (`a.parquet` and `a.parquet.crc`): only the key itself counts.
        for (const v of page.Versions ?? []) {
          if (v.Key === key) found.push({ versionId: v.VersionId ?? 'null', isLatest: v.IsLatest === true, isDeleteMarker: false });
        }
        for (const m of page.DeleteMarkers ?? []) {
          if (m.Key === key) found.push({ versionId: m.VersionId ?? 'null', isLatest: m.IsLatest === true, isDeleteMarker: true });
        }
      } while (page.IsTruncated === true);
      return found;
    },
    async deleteVersions(bucket, key, versionIds) {
      const answer = await client.send(new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: versionIds.map((VersionId) => ({ Key: key, VersionId })), Quiet: true },
      }));
      // Errors of single versions are left for the listing that follows: the file then counts as remaining.
      if ((answer.Errors ?? []).length > 0) {
        console.log(JSON.stringify({ level: 'WARN', message: 'versions not deleted', errors: answer.Errors!.length, codes: [...new Set(answer.Errors!.map((e) => e.Code))] }));
      }
    },
  };
}

const s3 = new S3Client({});

export const handler = (input: unknown): Promise<PurgeOutput> => purgeFiles(
  input, purgeLocationsOf(process.env.PURGE_LOCATIONS), sdkPurgeS3(s3), (fields) => console.log(JSON.stringify(fields)),
);
