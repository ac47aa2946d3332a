// A Node service as its developer writes it: pino for its logs, every record also produced to
// Kafka with kafkajs. Run: node payments.js BOOTSTRAP TOPIC COUNT
// It logs COUNT failed payments (ids differ, one message template), sends them, and exits.
'use strict';

const { Writable } = require('node:stream');
const pino = require('pino');
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic, countText] = process.argv.slice(2);
const count = Number.parseInt(countText || '40', 10);

class PaymentTimeoutError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PaymentTimeoutError';
  }
}

// pino writes one JSON line per record to its destination: keep them for the producer.
const lines = [];
const toKafka = new Writable({
  write(chunk, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line) lines.push(line);
    }
    done();
  },
});
const logger = pino({ name: 'payments' }, toKafka);

function charge(id) {
  throw new PaymentTimeoutError(`gateway did not answer payment ${id} within 3000 ms`);
}

async function main() {
  logger.info({ count }, 'charging payments');
  for (let i = 0; i < count; i += 1) {
    const id = 4711 + i;
    try {
      charge(id);
    } catch (err) {
      logger.error({ err }, `payment ${id} failed`);
    }
  }
  const kafka = new Kafka({ clientId: 'payments', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: lines.map((value) => ({ value })) });
  await producer.disconnect();
  process.stdout.write(`sent ${lines.length} records to ${topic}\n`);
}

main().catch((err) => {
  process.stderr.write(`payments: ${err.stack || err}\n`);
  process.exit(1);
});
