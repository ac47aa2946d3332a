// bunyan: numeric levels, ISO time, src: true (empty on Node >= 20.1, bunyan issue #714).
const bunyan = require('bunyan');
const { paymentIds, processPayment } = require('./payments');

const log = bunyan.createLogger({ name: 'payments', src: true, serializers: bunyan.stdSerializers });
log.info({ port: 8080 }, 'service started');
log.info('payment 4700 accepted');
for (const id of paymentIds()) {
  try {
    processPayment(id);
  } catch (err) {
    log.error({ err }, `payment ${id} failed`);
  }
}
