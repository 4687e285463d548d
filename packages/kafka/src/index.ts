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
export { fastRecordEncoder, fastRecordEncoding, type RecordInput } from './fast-record';
export { fastFetchDecoding, fastFetchStats, setFastFetchDecoding, type FastFetchStats } from './fast-fetch';
