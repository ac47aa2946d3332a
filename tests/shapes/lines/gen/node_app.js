// A Node service's plain-text output: console lines, an error with a cause and one with extra
// properties logged with console.error, and an uncaught error that ends the process.
'use strict';

function charge(payment) {
  const cause = new Error(`socket hang up`);
  throw new Error(`gateway did not answer payment ${payment} within 3000 ms`, { cause });
}

console.log('service started on port 3000');
console.warn('[warn] slow response from gateway: 2500 ms');
for (const payment of [4711, 4712]) {
  try {
    charge(payment);
  } catch (err) {
    console.error(`payment ${payment} failed:`, err);
  }
}
const refused = new Error('connect ECONNREFUSED 127.0.0.1:5432');
refused.code = 'ECONNREFUSED';
refused.port = 5432;
console.error(refused);
console.log('GET /health 200 3 ms');
setTimeout(() => {
  const settings = undefined;
  console.log(settings.currency);
}, 10);
