import type { ColumnType, Generated } from 'kysely';

// The tables the services share, as kysely sees them. Only migrations change the schema.

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type DefaultedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
// pg returns bigint columns as strings; the values here stay far below 2^53.
type BigIntColumn = ColumnType<string, number | bigint | string, number | bigint | string>;
type DefaultedBigInt = ColumnType<string, number | bigint | string | undefined, number | bigint | string>;

export type ArchiveSegmentsTable = {
  id: DefaultedBigInt;
  kind: 'raw' | 'quarantine';
  device_id: string;
  object_key: string;
  byte_offset: BigIntColumn;
  byte_length: BigIntColumn;
  message_count: number;
  first_received_at: Timestamp;
  last_received_at: Timestamp;
  created_at: DefaultedTimestamp;
};

type DefaultedJson = ColumnType<
  Record<string, unknown>,
  Record<string, unknown> | string | undefined,
  Record<string, unknown> | string
>;

export type DevicesTable = {
  id: Generated<number>;
  device_id: string;
  device_name: string;
  device_type: string | null;
  location: string | null;
  status: Generated<string>;
  metadata: DefaultedJson;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
  last_heartbeat: Timestamp | null;
};

export type DeviceConfigsTable = {
  id: Generated<number>;
  device_id: string;
  config_key: string;
  config_value: string | null;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
};

export type DeviceAlertsTable = {
  id: Generated<number>;
  device_id: string;
  alert_type: string;
  severity: Generated<string>;
  message: string | null;
  acknowledged: Generated<boolean>;
  acknowledged_by: string | null;
  acknowledged_at: Timestamp | null;
  resolved_at: Timestamp | null;
  created_at: DefaultedTimestamp;
  /** Set for an alert a rule raised: the value that triggered it and when, in the data's time. */
  rule_id: number | null;
  value: number | null;
  started_at: Timestamp | null;
};

type Json<T> = ColumnType<T, T | string, T | string>;

export type AlertRulesTable = {
  id: Generated<number>;
  name: string;
  kind: 'threshold' | 'no_data' | 'offline' | 'sequence_gap';
  metric: string | null;
  condition: Json<Record<string, unknown>> | null;
  for_seconds: Generated<number>;
  scope: Json<Record<string, unknown>>;
  severity: Generated<string>;
  message_template: string;
  enabled: Generated<boolean>;
  managed_by: string | null;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
};

export type AlertRuleStatesTable = {
  rule_id: number;
  device_id: string;
  state: 'pending' | 'firing' | 'resolved';
  since: Timestamp;
  value: number | null;
  evaluated_through: Timestamp;
  alert_id: number | null;
  updated_at: DefaultedTimestamp;
};

export type AlertNotificationsTable = {
  id: DefaultedBigInt;
  alert_id: number;
  event: 'firing' | 'resolved';
  target: string;
  idempotency_key: Generated<string>;
  attempts: Generated<number>;
  next_attempt_at: DefaultedTimestamp;
  last_error: string | null;
  delivered_at: Timestamp | null;
  failed_at: Timestamp | null;
  created_at: DefaultedTimestamp;
};

export type WebhooksTable = {
  id: Generated<number>;
  name: string;
  url: string;
  secret: string;
  enabled: Generated<boolean>;
  created_at: DefaultedTimestamp;
};

export type DeviceCommandsTable = {
  id: Generated<number>;
  cmd_id: string;
  device_id: string;
  cmd: string;
  params: DefaultedJson;
  status: Generated<string>;
  ack_detail: string | null;
  created_by: string | null;
  created_at: DefaultedTimestamp;
  sent_at: Timestamp | null;
  acked_at: Timestamp | null;
};

export type DevicePresenceTable = {
  device_id: string;
  connection_status: 'online' | 'offline';
  status_changed_at: Timestamp;
  last_seen: Timestamp;
  fw_version: string | null;
  uptime_s: BigIntColumn | null;
};

export type DeviceSequencesTable = {
  device_id: string;
  high_seq: BigIntColumn;
  missing: ColumnType<string[], (number | string)[], (number | string)[]>;
  received: DefaultedBigInt;
  duplicates: DefaultedBigInt;
  gaps: DefaultedBigInt;
  resets: DefaultedBigInt;
  updated_at: DefaultedTimestamp;
};

export type ApiKeysTable = {
  id: Generated<number>;
  name: string;
  role: string;
  key_prefix: string;
  key_hash: string;
  created_by: string;
  created_at: DefaultedTimestamp;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
};

export type CollectorSessionsTable = {
  client_id: string;
  filters: string[];
  updated_at: DefaultedTimestamp;
};

export type DeviceCredentialsTable = {
  device_id: string;
  /** Mosquitto's password-file form: `$7$<iterations>$<salt>$<hash>` (PBKDF2-SHA512). */
  password_hash: string;
  issued_at: DefaultedTimestamp;
};

export type Database = {
  alert_notifications: AlertNotificationsTable;
  alert_rules: AlertRulesTable;
  alert_rule_states: AlertRuleStatesTable;
  api_keys: ApiKeysTable;
  archive_segments: ArchiveSegmentsTable;
  collector_sessions: CollectorSessionsTable;
  devices: DevicesTable;
  device_configs: DeviceConfigsTable;
  device_credentials: DeviceCredentialsTable;
  device_alerts: DeviceAlertsTable;
  device_commands: DeviceCommandsTable;
  device_presence: DevicePresenceTable;
  device_sequences: DeviceSequencesTable;
  webhooks: WebhooksTable;
};
