import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createKafka, forwardLog, type KafkaLogger } from '../src/client';

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

describe('createKafka', () => {
  it('builds a client without connecting', () => {
    const kafka = createKafka({ brokers: ['127.0.0.1:1'], clientId: 'unit', logger: recorder().logger });
    expect(typeof kafka.producer).toBe('function');
  });
});
