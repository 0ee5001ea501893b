// Tracing starts before the rest of the service is loaded, so that its instrumentations hook `pg`
// and `http` as they load.
import { startTracing } from '@iot-meter/common/tracing';

const stopTracing = await startTracing('collector', process.env);
const { startService } = await import('./service.js');
// `--drain`: take over a removed replica's client id, store what its session still holds, then end
// the session, so scaling the StatefulSet down strands nothing (the chart runs this on scale-down).
await startService(stopTracing, process.argv.includes('--drain'));
