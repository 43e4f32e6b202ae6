import { bench, describe } from "vitest";

function fibonacci(n) {
  return n < 2 ? n : fibonacci(n - 1) + fibonacci(n - 2);
}

describe("math", () => {
  bench("fibonacci 15", () => {
    fibonacci(15);
  });
  bench("sum 1k", () => {
    let s = 0;
    for (let i = 0; i < 1000; i++) s += i;
    return s;
  });
});
