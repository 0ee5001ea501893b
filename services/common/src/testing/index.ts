export * from './sample-env.js';
export * from './stack-mqtt.js';
export * from './test-bucket.js';
export * from './test-database.js';
export * from './test-influx-bucket.js';
export * from './wait-for.js';
