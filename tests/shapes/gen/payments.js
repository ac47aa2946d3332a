// What every Node program here fails at: 12 payments that time out.
class PaymentTimeoutError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PaymentTimeoutError';
  }
}

function paymentIds() {
  const ids = [];
  for (let id = 4711; id < 4723; id++) ids.push(id);
  return ids;
}

function processPayment(id) {
  throw new PaymentTimeoutError(`gateway did not answer payment ${id} within 3000 ms`);
}

module.exports = { PaymentTimeoutError, paymentIds, processPayment };
