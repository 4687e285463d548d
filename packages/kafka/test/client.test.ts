import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { createKafka, forwardLog, type KafkaLogger, RETRIED_ERRORS } from '../src/client';

function recorder() {
  const lines: [string, object, string][] = [];
  const logger: KafkaLogger = {
    error: (o, m) => lines.push(['error', o, m]),
    warn: (o, m) => lines.push(['warn', o, m]),
    info: (o, m) => lines.push(['info', o, m]),
    debug: (o, m) => lines.push(['debug', o, m]),
  };
  return { logger, lines };
}

describe('forwardLog', () => {
  it('maps kafkajs levels to the logger, object first with a constant message', () => {
    const { logger, lines } = recorder();
    const log = { message: 'Connection error', timestamp: 't', logger: 'kafkajs', broker: '127.0.0.1:19092' };
    forwardLog(logger, { namespace: 'Connection', level: logLevel.ERROR, label: 'ERROR', log });
    forwardLog(logger, { namespace: 'Producer', level: logLevel.DEBUG, label: 'DEBUG', log });
    expect(lines).toEqual([
      ['error', { kafkajs: 'Connection', broker: '127.0.0.1:19092' }, 'kafkajs: Connection error'],
      ['debug', { kafkajs: 'Producer', broker: '127.0.0.1:19092' }, 'kafkajs: Connection error'],
    ]);
  });
});

describe('forwardLog on a normal start', () => {
  const entry = (level: logLevel, message: string, error?: string) => ({
    namespace: 'Connection',
    level,
    label: '',
    log: { message, timestamp: 't', logger: 'kafkajs', ...(error === undefined ? {} : { error }) },
  });

  it('forwards the retried coordinator, leader and transaction errors at debug', () => {
    const { logger, lines } = recorder();
    forwardLog(
      logger,
      entry(
        logLevel.ERROR,
        'Response GroupCoordinator(key: 10, version: 2)',
        "The coordinator is loading and hence can't process requests for this group",
      ),
    );
    forwardLog(
      logger,
      entry(
        logLevel.ERROR,
        'Response AddOffsetsToTxn(key: 25, version: 1)',
        'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing',
      ),
    );
    forwardLog(
      logger,
      entry(
        logLevel.ERROR,
        'Response Metadata(key: 3, version: 6)',
        'There is no leader for this topic-partition as we are in the middle of a leadership election',
      ),
    );
    expect(lines.map(([level]) => level)).toEqual(['debug', 'debug', 'debug']);
  });

  it('forwards the bounded-retries warning of the idempotent producer and rebalances at debug', () => {
    const { logger, lines } = recorder();
    forwardLog(
      logger,
      entry(logLevel.WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees'),
    );
    forwardLog(logger, entry(logLevel.WARN, 'The group is rebalancing, re-joining'));
    expect(lines.map(([level]) => level)).toEqual(['debug', 'debug']);
  });

  it('names each retried error exactly as kafkajs 2.2.4 words it', () => {
    // kafkajs' protocol error table (an internal module of the exactly pinned version).
    const { errorCodes } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
      errorCodes: { type: string; message: string }[];
    };
    const known = new Set(errorCodes.map((e) => e.message));
    expect(RETRIED_ERRORS.filter((m) => !known.has(m))).toEqual([]);
  });

  it('keeps every other error and warning at its level', () => {
    const { logger, lines } = recorder();
    forwardLog(
      logger,
      entry(logLevel.ERROR, 'Response Produce(key: 0, version: 7)', 'Topic authorization failed'),
    );
    forwardLog(logger, entry(logLevel.ERROR, 'Connection error', undefined));
    forwardLog(logger, entry(logLevel.WARN, 'Could not create topics'));
    forwardLog(
      logger,
      entry(
        logLevel.INFO,
        'Consumer has joined the group',
        "The coordinator is loading and hence can't process requests for this group",
      ),
    );
    expect(lines.map(([level]) => level)).toEqual(['error', 'error', 'warn', 'info']);
  });
});

describe('createKafka', () => {
  it('builds a client without connecting', () => {
    const kafka = createKafka({ brokers: ['127.0.0.1:1'], clientId: 'unit', logger: recorder().logger });
    expect(typeof kafka.producer).toBe('function');
  });
});
