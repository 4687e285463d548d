export {
  StackError,
  repoRoot,
  resolveConfig,
  saslOf,
  securityOf,
  type Endpoints,
  type StackConfig,
} from './config';
export {
  CONSOLE_DEMO_USERS,
  REDIS_USERS,
  consoleUserSecret,
  consoleUsersFile,
  kafkaSecret,
  publisherAdminToken,
  pseudonymSecret,
  redisSecret,
  redisUrlOf,
  secretsDir,
  serviceSecretEnvsOf,
  type ServiceSecretEnvs,
  withoutCredentials,
  type RedisUser,
} from './secrets';
export { probeKafka, probeMqtt, probeRedis, type Probe } from './health';
export { pinnedKafkaVersion } from './kafka';
export { ARTEMIS_VERSION, artemisHome } from './artemis';
export {
  registryOperators,
  stackPrincipals,
  type MqttCredentials,
  type MqttPrincipal,
  type MqttRole,
} from './mqtt-principals';
export { stackProvision, type StackProvisionOptions, type StackProvisionResult } from './provision';
/** Per-service credentials of the local stack (see `serviceSecretEnvsOf`). */
export { serviceSecretEnvs } from './stack';
export {
  clusterBrokers,
  clusterDown,
  clusterUp,
  endpoints,
  killKafkaBroker,
  killMqtt,
  mqttPairDown,
  mqttPairUp,
  stackMqttBackupUrl,
  stackMqttCredentials,
  stackMqttPasswordsDir,
  startMqtt,
  stackDown,
  stackStatus,
  stackUp,
  startKafka,
  startKafkaBroker,
  stopKafka,
  stopKafkaBroker,
  type ServiceName,
  type ServiceStatus,
  type StackDownOptions,
  type StackOptions,
  type StackUpOptions,
} from './stack';
export {
  S3_ACCESS_KEY_ID,
  ensureS3Proxy,
  probeS3,
  s3Down,
  s3Endpoint,
  s3Port,
  S3PROXY_VERSION,
  s3Running,
  s3Up,
  type S3Endpoint,
} from './s3';
export {
  killRedisClusterNode,
  probeRedisCluster,
  REDIS_CLUSTER_NODES,
  redisClusterDown,
  redisClusterNodeOf,
  redisClusterPorts,
  redisClusterRunning,
  redisClusterUp,
  redisClusterUrl,
} from './redis-cluster';
export {
  addOperator,
  artemisManagement,
  expireOperators,
  listOperators,
  parseGrace,
  revokeOperator,
  rotateOperator,
  type IssuedCredentials,
  type OperatorListing,
} from './operators-commands';
export {
  operatorsAuditFile,
  operatorsStateFile,
  readOperatorsState,
  verifyArtemisHash,
  verifyAuditChain,
} from './operators';
export { mqttCaFile, mqttCrlFile, mqttTlsDir } from './mqtt-tls';
