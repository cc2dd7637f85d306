// Verifies wxlogin's webhook deliveries with the Standard Webhooks reference library, so the
// e2e tests check our signatures against someone else's code, not against our own.
//
//   node verify.mjs deliveries.json
//
// deliveries.json: a JSON array of
//   { "secret": "whsec_...",
//     "headers": { "webhook-id": "...", "webhook-timestamp": "...", "webhook-signature": "..." },
//     "body": "<the raw body, exactly as received>" }
// The library also refuses timestamps more than 5 minutes from now: record deliveries fresh.
// Prints "verified N deliveries" and exits 0, or names the first that fails and exits 1.
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

function fail(message) {
  console.error(message);
  process.exit(1);
}

const file = process.argv[2];
if (!file) fail("usage: node verify.mjs DELIVERIES.json");

let deliveries;
try {
  deliveries = JSON.parse(readFileSync(file, "utf8"));
} catch (error) {
  fail(`cannot read ${file}: ${error.message}`);
}
if (!Array.isArray(deliveries)) fail(`${file}: expected a JSON array of deliveries`);

deliveries.forEach((delivery, index) => {
  const id = delivery?.headers?.["webhook-id"];
  try {
    if (typeof delivery?.body !== "string") throw new Error("`body` must be the raw body string");
    new Webhook(delivery.secret).verify(delivery.body, delivery.headers ?? {});
  } catch (error) {
    // Never print the secret: name the delivery by its position and id.
    fail(`delivery #${index + 1} (webhook-id ${JSON.stringify(id)}) failed: ${error.message}`);
  }
});

console.log(`verified ${deliveries.length} deliveries`);
