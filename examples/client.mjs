// A client for mlgate's job API with fetch: Node 18+ or a browser, no package.
//
//   MLGATE_KEY=mlg_... node client.mjs [--url URL] [--wait N] TEXT...
//
// For each TEXT it posts POST /predict with `Prefer: wait=N`: a 200 is the
// finished job; a 202 is polled at its Location until the job finishes. An
// answer 429 (rate limited) or 503 (queue full, shutting down, busy) is
// retried after its Retry-After, the POST with the same Idempotency-Key so a
// retry never makes a second job. Prints the finished job as one JSON line
// per TEXT; exits 0 when every job completed, 1 otherwise, 2 on a usage error.
//
// In a browser (or another module):
//   import { MlgateClient } from "./client.mjs";
//   const job = await new MlgateClient("", key).predict("The staff were friendly");

const FINISHED = ["completed", "failed", "canceled"];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class ApiError extends Error {
  constructor(status, body) {
    super(`HTTP ${status}: ${JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

export class MlgateClient {
  // url: "http://127.0.0.1:8000", or "" for the page's own server.
  constructor(url, key, { retries = 5, maxRetryAfter = 60, log = console.error } = {}) {
    this.url = url.replace(/\/+$/, "");
    this.key = key;
    this.retries = retries;
    this.maxRetryAfter = maxRetryAfter;
    this.log = log;
  }

  // A request retried on 429 and 503 after Retry-After, at most `retries` times.
  async request(method, path, { body, headers = {} } = {}) {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(this.url + path, {
        method,
        body,
        headers: { "X-API-Key": this.key, ...headers },
      });
      const text = await res.text();
      let parsed;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
      if ((res.status === 429 || res.status === 503) && attempt < this.retries) {
        const after = Number.parseInt(res.headers.get("Retry-After") ?? "1", 10);
        const wait = Math.min(Math.max(Number.isFinite(after) ? after : 1, 1), this.maxRetryAfter);
        this.log(`mlgate: ${method} ${path} answered ${res.status}; retrying in ${wait} s`);
        await sleep(wait * 1000);
        continue;
      }
      if (res.status >= 400) throw new ApiError(res.status, parsed);
      return { status: res.status, headers: res.headers, body: parsed };
    }
  }

  // Posts `text` and resolves to the finished job.
  async predict(text, { wait = 10, timeoutMs = 120_000, pollMs = 500 } = {}) {
    const first = await this.request("POST", "/predict", {
      body: JSON.stringify({ text }),
      headers: {
        "Content-Type": "application/json",
        Prefer: `wait=${wait}`,
        "Idempotency-Key": crypto.randomUUID(),
      },
    });
    let job = first.body;
    const location = first.headers.get("Location") ?? `/jobs/${job.job_uuid}`;
    const deadline = Date.now() + timeoutMs;
    while (!FINISHED.includes(job.status)) {
      if (Date.now() > deadline) throw new Error(`job ${job.job_uuid} still ${job.status}`);
      await sleep(pollMs);
      job = (await this.request("GET", location)).body;
    }
    return job;
  }
}

async function main(argv, env) {
  let url = env.MLGATE_URL ?? "http://127.0.0.1:8000";
  let wait = 10;
  const texts = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--url") url = argv[++i];
    else if (argv[i] === "--wait") wait = Number(argv[++i]);
    else texts.push(argv[i]);
  }
  if (!env.MLGATE_KEY || texts.length === 0 || !url || !Number.isInteger(wait)) {
    console.error("usage: MLGATE_KEY=mlg_... node client.mjs [--url URL] [--wait N] TEXT...");
    return 2;
  }
  const client = new MlgateClient(url, env.MLGATE_KEY);
  let ok = true;
  for (const text of texts) {
    try {
      const job = await client.predict(text, { wait });
      console.log(JSON.stringify(job));
      ok = ok && job.status === "completed";
    } catch (err) {
      console.error(`mlgate: ${err.message}`);
      ok = false;
    }
  }
  return ok ? 0 : 1;
}

// Run as a program under Node (not when imported, nor in a browser).
if (typeof process !== "undefined" && process.argv[1] &&
    import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.exitCode = await main(process.argv.slice(2), process.env);
}
