import { ColumnAction, ColumnClassification, DataLake, DatasetVolume, Generalization, RowRetention } from '../../constructs/data-lake';

const C = ColumnClassification;
const A = ColumnAction;

/**
 * The data chapter 9 needs: search sessions (the ordered listing clicks and the booking they ended
 * in, for training the embeddings), the listings (cold start, re-ranking filters, indexing) and the
 * served similar-listings carousel (the monitor's baseline). Personal columns: session and user ids
 * are pseudonymized; the IP, search location, times and listing coordinates generalized (location
 * rounded to about 1 km); the host is dropped.
 */
export function addSimilarListingsDatasets(lake: DataLake, volumes: Partial<Record<'search_sessions', DatasetVolume>> = {}) {
  const sessionId = { name: 'session_id', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.PSEUDONYMIZE } as const;
  const hour = Generalization.truncateTimestamp('hour');
  const sessions = lake.addDataset('search_sessions', {
    description: 'Listing clicks of search sessions in order, and the booking a session ended in',
    volume: volumes.search_sessions,
    retention: RowRetention.byTimeColumn('clicked_at'),
    columns: [
      sessionId,
      { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
      { name: 'ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
      { name: 'search_geohash', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.prefix(4) },
      { name: 'clicked_at', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: hour },
      { name: 'listing_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'position', type: 'bigint', classification: C.NON_PERSONAL },
      { name: 'booked', type: 'bigint', classification: C.NON_PERSONAL },
      { name: 'region', type: 'string', classification: C.NON_PERSONAL },
    ],
  });
  const coordinate = { type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(2) } as const;
  const listings = lake.addDataset('listings', {
    description: 'Listings and their attributes; the location is rounded to about 1 km, the host dropped',
    retention: RowRetention.byTimeColumn('updated_at'),
    columns: [
      { name: 'listing_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'host_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
      { name: 'region', type: 'string', classification: C.NON_PERSONAL },
      { name: 'room_type', type: 'string', classification: C.NON_PERSONAL },
      { name: 'price_per_night', type: 'double', classification: C.NON_PERSONAL },
      { name: 'bedrooms', type: 'bigint', classification: C.NON_PERSONAL },
      { name: 'latitude', ...coordinate },
      { name: 'longitude', ...coordinate },
      // When the listing service exported the row: the table keeps a listing for curatedRetention after its last export.
      { name: 'updated_at', type: 'timestamp', classification: C.NON_PERSONAL },
    ],
  });
  const carousel = lake.addDataset('similar_listing_impressions', {
    description: 'Similar listings served in the carousel, with the score served and whether they were clicked',
    retention: RowRetention.byTimeColumn('shown_at'),
    columns: [
      sessionId,
      { name: 'shown_at', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: hour },
      { name: 'listing_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'candidate_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'price_per_night', type: 'double', classification: C.NON_PERSONAL },
      { name: 'room_type', type: 'string', classification: C.NON_PERSONAL },
      { name: 'score', type: 'double', classification: C.NON_PERSONAL },
      { name: 'clicked', type: 'bigint', classification: C.NON_PERSONAL },
    ],
  });
  return { sessions, listings, carousel };
}
