// winston: the documented JSON setup (timestamp, errors with stack, a default service).
const winston = require('winston');
const { paymentIds, processPayment } = require('./payments');

const log = winston.createLogger({
  level: 'info',
  format: winston.format.combine(
    winston.format.timestamp(),
    winston.format.errors({ stack: true }),
    winston.format.json(),
  ),
  defaultMeta: { service: 'payments' },
  transports: [new winston.transports.Console()],
});
log.info('service started', { port: 8080 });
log.info('payment 4700 accepted');
for (const id of paymentIds()) {
  try {
    processPayment(id);
  } catch (err) {
    log.error(`payment ${id} failed`, err);
  }
}
