// Real backing servers on loopback for tests and the local environment.
export type { RunningServer } from "./process.js";
export { stopAll } from "./process.js";
export { freePort } from "./ports.js";
export { startRedis, type RedisOptions } from "./redis.js";
export {
  startAlertmanager,
  startPrometheus,
  type AlertmanagerOptions,
  type PrometheusOptions,
} from "./prometheus.js";
export { jaegerConfig, startJaeger, type JaegerOptions, type RunningJaeger } from "./jaeger.js";
export { startMongo, type MongoOptions } from "./mongo.js";
export { startKafka, type KafkaOptions } from "./kafka.js";
export { startNginx, type NginxOptions, type RunningNginx } from "./nginx.js";
export {
  startPostgres,
  rejoinAsStandby,
  replicationLag,
  ferretdbUrl,
  ferretdbGinTwins,
  setSynchronous,
  postgresRole,
  promotePostgres,
  type PostgresOptions,
  type RunningPostgres,
} from "./postgres.js";
export { startMirrorMaker, mirrorMakerProperties, type MirrorMakerOptions } from "./mirrormaker.js";
