// pino with pino-caller: the call site in `caller` ("fn (path:line:col)").
const pino = require('pino');
const log = require('pino-caller')(pino({ name: 'payments' }));
const { paymentIds, processPayment } = require('./payments');

log.info({ port: 8080 }, 'service started');
log.info('payment 4700 accepted');
for (const id of paymentIds()) {
  try {
    processPayment(id);
  } catch (err) {
    log.error({ err }, `payment ${id} failed`);
  }
}
