// Tracing starts before the rest of the service is loaded, so that its instrumentations hook `pg`
// and `http` as they load.
import { startTracing } from '@iot-meter/common/tracing';

const stopTracing = await startTracing('device-manager', process.env);
const { startService } = await import('./service.js');
await startService(stopTracing);
