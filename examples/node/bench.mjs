// tinybench benchmarks with CodSpeed's plugin: under `codspeed run` each task
// becomes one benchmark; run plainly with `node bench.mjs` it is ordinary tinybench.
import { Bench } from "tinybench";
import { withCodSpeed } from "@codspeed/tinybench-plugin";

function fibonacci(n) {
  return n < 2 ? n : fibonacci(n - 1) + fibonacci(n - 2);
}

function buildString(n) {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + (i % 26));
  return s;
}

function sortNumbers(n) {
  const a = [];
  for (let i = 0; i < n; i++) a.push((i * 7919) % n);
  return a.sort((x, y) => x - y);
}

const bench = withCodSpeed(new Bench({ time: 100 }));
bench
  .add("fibonacci 20", () => fibonacci(20))
  .add("build string 10k", () => buildString(10000))
  .add("sort 10k", () => sortNumbers(10000));

await bench.run();
console.table(bench.table());
