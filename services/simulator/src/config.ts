import { mqttEnv, serviceEnv } from '@iot-meter/common';
import type { z } from 'zod';

export const simulatorConfig = serviceEnv(8082).extend(mqttEnv.shape);

export type SimulatorConfig = z.output<typeof simulatorConfig>;
