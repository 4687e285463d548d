export {
  createKafka,
  defaultRetry,
  forwardLog,
  kafkaSecurityFromEnv,
  type CreateKafkaOptions,
  type KafkaLogger,
  type KafkaSasl,
  type KafkaSecurity,
} from './client';
export {
  deleteNamespaceAcls,
  diffAcls,
  provisionAcls,
  isAuthorizationError,
  type AclDrift,
  type AclProvisionResult,
} from './acls';
export {
  createBatchingProducer,
  toTopicMessages,
  type BatchingProducer,
  type BatchingProducerOptions,
  type OutgoingRecord,
} from './batching-producer';
export {
  diffTopic,
  provisionTopics,
  topicConfigs,
  type ProvisionOptions,
  type ProvisionResult,
  type TopicDrift,
  type TopicProvisionSpec,
} from './provision';
export { readAll, type ReadAllOptions, type ReadRecord } from './consume';
export { cachingKeyPartitioner } from './partitioner';
export { waitForTopicsReady, type TopicsReadyOptions } from './topics-ready';
export {
  fastFetchDecoding,
  fastFetchStats,
  fastRecordEncoder,
  fastRecordEncoding,
  installKafkajsSpeedups,
  KAFKAJS_PINNED_VERSION,
  kafkajsVersion,
  setFastFetchDecoding,
  type FastFetchStats,
  type KafkajsSpeedups,
  type RecordInput,
} from './kafkajs-speedups';
import { installKafkajsSpeedups } from './kafkajs-speedups';

// The kafkajs speed-ups (kafkajs-speedups/index.ts), installed here, once, before any client of this
// package produces or fetches. ONDIJON_KAFKAJS_SPEEDUPS=off runs stock kafkajs.
installKafkajsSpeedups();
