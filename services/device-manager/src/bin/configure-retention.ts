import { createLogger, createObjectStore, loadConfig } from '@iot-meter/common';
import { applyArchiveLifecycle, applyTimeSeriesRetention } from '../retention/apply-retention.js';
import { applyDownsampling } from '../retention/downsample.js';
import { retentionConfig } from '../retention/retention-config.js';

// `node dist/bin/configure-retention.js`: the chart's retention Job, run on every install and upgrade.
const config = loadConfig(retentionConfig, process.env);
const logger = createLogger('retention');
await applyTimeSeriesRetention(config, config.RETENTION_TIME_SERIES_DAYS);
await applyArchiveLifecycle(createObjectStore(config), config.S3_BUCKET, {
  archiveDays: config.RETENTION_ARCHIVE_DAYS,
  quarantineDays: config.RETENTION_QUARANTINE_DAYS,
});
// Unset, a task left from before is removed.
const downsampling = config.INFLUX_DOWNSAMPLE_BUCKET
  ? {
      bucket: config.INFLUX_DOWNSAMPLE_BUCKET,
      every: config.INFLUX_DOWNSAMPLE_EVERY,
      lateWindows: config.RETENTION_DOWNSAMPLE_LATE_WINDOWS,
      days: config.RETENTION_DOWNSAMPLE_DAYS,
    }
  : undefined;
await applyDownsampling(config, downsampling);
logger.info(
  {
    timeSeriesDays: config.RETENTION_TIME_SERIES_DAYS,
    archiveDays: config.RETENTION_ARCHIVE_DAYS,
    quarantineDays: config.RETENTION_QUARANTINE_DAYS,
    downsampling: downsampling ?? 'off',
  },
  'retention applied (0 days: kept forever)',
);
