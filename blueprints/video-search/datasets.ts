import { VideoSearchFigures } from './figures';
import { ColumnAction, ColumnClassification, DataLake, DatasetVolume, Generalization, RowRetention } from '../../constructs/data-lake';

const C = ColumnClassification;
const A = ColumnAction;

/**
 * The data chapter 4 needs: the video catalogue (metadata for the text index, frame features for
 * the video encoder and the indexing pipeline) and the search logs' ⟨video, query⟩ pairs the
 * encoders are trained on and the query drift is measured against.
 *
 * Personal columns: user and uploader ids are pseudonymized (the uploader's pseudonym allows
 * erasure), e-mail addresses and device ids are dropped, IPs and times are generalized. Titles,
 * tags, queries and frames may name or show people; they are quasi-identifiers kept because the
 * encoders learn from them.
 */
export function addVideoSearchDatasets(lake: DataLake, figures: VideoSearchFigures, volumes: Partial<Record<'videos' | 'search_pairs', DatasetVolume>> = {}) {
  const a = figures.assumptions;
  const videos = lake.addDataset('videos', {
    description: 'Uploaded videos: metadata for the text index and frame features for the video encoder',
    volume: volumes.videos,
    retention: RowRetention.byTimeColumn('uploaded_at'),
    columns: [
      { name: 'video_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'uploader_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE, comment: 'The uploader; the pseudonym allows erasure' },
      { name: 'uploader_email', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
      { name: 'uploaded_at', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('day') },
      { name: 'title', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.KEEP, comment: 'Written by the uploader; may name people. Kept for the text index' },
      { name: 'tags', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.KEEP, comment: 'Written by the uploader; may name people. Kept for the text index' },
      { name: 'language', type: 'string', classification: C.NON_PERSONAL },
      { name: 'duration_seconds', type: 'double', classification: C.NON_PERSONAL },
      {
        name: 'frame_features', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.KEEP,
        comment: `JSON list of sampled frames, ${a.frameFeatureDimensions} values each. Frames may show faces; kept because the video encoder learns from them`,
      },
    ],
  });
  const pairs = lake.addDataset('search_pairs', {
    description: 'Search logs: a query and the video the user watched from its results',
    volume: volumes.search_pairs,
    retention: RowRetention.byTimeColumn('searched_at'),
    columns: [
      { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
      { name: 'device_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
      { name: 'client_ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
      { name: 'searched_at', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('hour') },
      { name: 'query_text', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.KEEP, comment: 'Queries can name people and places; kept because the text encoder learns from them' },
      { name: 'query_language', type: 'string', classification: C.NON_PERSONAL },
      { name: 'query_token_count', type: 'bigint', classification: C.NON_PERSONAL, comment: 'Letter-or-digit runs of the query, as the text encoder counts them' },
      { name: 'video_id', type: 'string', classification: C.NON_PERSONAL, comment: 'The video watched from the results' },
      { name: 'watch_seconds', type: 'double', classification: C.NON_PERSONAL },
    ],
  });
  return { videos, pairs };
}
