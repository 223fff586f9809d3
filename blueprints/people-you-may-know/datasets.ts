import { ColumnAction, ColumnClassification, DataLake, DatasetVolume, Generalization, RowRetention } from '../../constructs/data-lake';

const C = ColumnClassification;
const A = ColumnAction;

/**
 * The data chapter 11 needs: the friendship graph with the day each friendship formed (from which
 * training cuts the snapshots t → t+1), and profiles with the affinities the chapter uses (school,
 * work), one row per user to precompute suggestions for.
 *
 * Personal columns: user and friend ids are pseudonymized, formation times generalized to the day,
 * full names dropped; school and employer are pseudonymized too, which keeps "same school / same
 * employer", all the model needs.
 */
export function addPeopleYouMayKnowDatasets(lake: DataLake, volumes: Partial<Record<'pymk_friendships' | 'pymk_profiles', DatasetVolume>> = {}) {
  const friendships = lake.addDataset('pymk_friendships', {
    description: 'One row per friendship (either direction), with the day it formed',
    volume: volumes.pymk_friendships,
    retention: RowRetention.byTimeColumn('created_at'),
    columns: [
      { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
      // A friend is a user: erasing a user also removes the friendships in which they are the friend.
      { name: 'friend_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE, subjectIdentifier: 'user_id' },
      { name: 'created_at', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('day') },
    ],
  });
  const profiles = lake.addDataset('pymk_profiles', {
    description: 'One row per user: the affinities the chapter uses (school, work), and the user to precompute for',
    volume: volumes.pymk_profiles,
    retention: RowRetention.byTimeColumn('updated_at'),
    columns: [
      { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
      { name: 'full_name', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
      // Pseudonyms keep "same school / same employer", which is all the model needs.
      { name: 'school', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.PSEUDONYMIZE },
      { name: 'employer', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.PSEUDONYMIZE },
      // When the profile service exported the row: the table keeps a profile for curatedRetention after its last export.
      { name: 'updated_at', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('day') },
    ],
  });
  return { friendships, profiles };
}
