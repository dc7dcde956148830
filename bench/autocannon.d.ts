// The part of autocannon's API (v8, untyped CommonJS) the benchmarks use. See its README, "API".
declare module 'autocannon' {
  namespace autocannon {
    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      total: number;
      p50: number;
      p90: number;
      p97_5: number;
      p99: number;
      p99_9: number;
    }
    interface Client {
      setBody(body: string | Buffer): void;
      setHeaders(headers: Record<string, string>): void;
    }
    interface Options {
      url: string;
      connections?: number;
      /** seconds */
      duration?: number;
      amount?: number;
      /** seconds */
      timeout?: number;
      method?: string;
      headers?: Record<string, string>;
      body?: string;
      /** called once per connection */
      setupClient?: (client: Client) => void;
    }
    interface Result {
      /** seconds */
      duration: number;
      errors: number;
      timeouts: number;
      non2xx: number;
      mismatches: number;
      resets: number;
      '2xx': number;
      /** ms */
      latency: Histogram;
      /** per second, sampled each second */
      requests: Histogram;
      throughput: Histogram;
      statusCodeStats: Record<string, { count: number }>;
    }
    interface Instance extends PromiseLike<Result> {
      stop(): void;
    }
  }
  function autocannon(opts: autocannon.Options): autocannon.Instance;
  export = autocannon;
}
