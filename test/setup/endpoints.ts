/** Endpoints the integration tests use, provided by the global setup. */
export interface TestEndpoints {
  /** Kafka bootstrap brokers, `host:port`. */
  kafkaBrokers: string[];
  /** The super user's SASL credentials (local stack), or the env's; absent with an unauthenticated broker. */
  kafkaSasl?: { username: string; password: string; passwordFile?: string };
  /** MQTT broker URL. */
  mqttUrl: string;
  /** Redis URL (with the admin user's credentials on the local stack). */
  redisUrl: string;
  /** MQTT principals by login name (`admin`, `ingest`, operator codes): the local stack's, or the env's. */
  mqttUsers: Record<string, { username: string; password: string }>;
  /** Where they come from: `env`, `testcontainers` or `local-stack`. */
  source: 'env' | 'testcontainers' | 'local-stack';
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Kafka, MQTT and Redis endpoints chosen by test/setup/global-setup.ts. */
    endpoints: TestEndpoints;
  }
}
