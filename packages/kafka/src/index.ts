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
export {
  createConsumer,
  eventText,
  isRetriableKafkaError,
  recordText,
  type BatchHandler,
  type ConsumedBatch,
  type ConsumerOptions,
  type KafkaConsumer,
} from './consumer';
export { LineageFollower, unknownLineageRefs, type LineageFollowerOptions } from './lineage-follower';
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
  setFetchHeaderSubset,
  type FastFetchStats,
  type KafkajsSpeedups,
  type RecordInput,
} from './kafkajs-speedups';
