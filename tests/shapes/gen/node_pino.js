// pino: numeric levels, epoch-ms time, no call site.
const pino = require('pino');
const { paymentIds, processPayment } = require('./payments');

const log = pino({ name: 'payments' });
log.info({ port: 8080 }, 'service started');
log.info('payment 4700 accepted');
for (const id of paymentIds()) {
  try {
    processPayment(id);
  } catch (err) {
    log.error({ err }, `payment ${id} failed`);
  }
}
