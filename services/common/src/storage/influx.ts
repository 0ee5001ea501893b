import { InfluxDB } from '@influxdata/influxdb-client';
import type { InfluxEnv } from '../config/env-schemas.js';

/** An InfluxDB 2 client for `INFLUX_URL` with `INFLUX_TOKEN`. */
export function createInflux(config: InfluxEnv): InfluxDB {
  return new InfluxDB({ url: config.INFLUX_URL, token: config.INFLUX_TOKEN });
}
