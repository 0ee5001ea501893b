import { type Kysely, type Migration, type MigrationResultSet, Migrator } from 'kysely';
import * as archiveSegments from './migrations/2026-11-29T08-00-00_archive-segments.js';
import * as devicesPresenceSequences from './migrations/2026-11-29T09-00-00_devices-presence-sequences.js';
import * as apiKeysAndListing from './migrations/2026-11-29T11-00-00_api-keys-and-listing.js';
import * as deviceRegistryChanges from './migrations/2026-11-29T13-00-00_device-registry-changes.js';
import * as collectorSessions from './migrations/2026-12-01T12-00-00_collector-sessions.js';
import * as deviceCredentials from './migrations/2026-12-01T18-00-00_device-credentials.js';
import * as apiKeyChanges from './migrations/2026-12-01T19-00-00_api-key-changes.js';
import * as serviceRoles from './migrations/2026-12-02T08-00-00_service-roles.js';
import * as alertRules from './migrations/2026-12-03T08-00-00_alert-rules.js';
import * as sequenceGapRules from './migrations/2026-12-04T08-00-00_sequence-gap-rules.js';

// Listed here rather than read from a folder, so the compiled services and the tests run the same set.
const migrations: Record<string, Migration> = {
  '2026-11-29T08-00-00_archive-segments': archiveSegments,
  '2026-11-29T09-00-00_devices-presence-sequences': devicesPresenceSequences,
  '2026-11-29T11-00-00_api-keys-and-listing': apiKeysAndListing,
  '2026-11-29T13-00-00_device-registry-changes': deviceRegistryChanges,
  '2026-12-01T12-00-00_collector-sessions': collectorSessions,
  '2026-12-01T18-00-00_device-credentials': deviceCredentials,
  '2026-12-01T19-00-00_api-key-changes': apiKeyChanges,
  '2026-12-02T08-00-00_service-roles': serviceRoles,
  '2026-12-03T08-00-00_alert-rules': alertRules,
  '2026-12-04T08-00-00_sequence-gap-rules': sequenceGapRules,
};

/** Brings the schema to the newest migration; throws if one fails. */
export async function migrateToLatest(db: Kysely<unknown>): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const result = await migrator.migrateToLatest();
  if (result.error) throw result.error;
  return result;
}
