// A minimal stand-in for the browser DOM, enough to run the flame graph's
// inline script under Node: svg_test.go feeds it the frames of a real SVG,
// clicks one, and reads back the geometry. Usage: node zoom_harness.js SCRIPT FRAMES.json CLICK
"use strict";
const fs = require("fs");
const [script, framesPath, click] = process.argv.slice(2);
const input = JSON.parse(fs.readFileSync(framesPath, "utf8"));

function element(attrs, children) {
  const e = {
    attrs: Object.assign({}, attrs), children: children || [], style: {}, listeners: {}, textContent: "",
    getAttribute(n) { return n in this.attrs ? String(this.attrs[n]) : null; },
    setAttribute(n, v) { this.attrs[n] = String(v); },
    addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); },
    fire(type) { (this.listeners[type] || []).forEach((fn) => fn({})); },
    querySelector(sel) { return this.children.find((c) => c.tag === sel || c.cls === sel.replace(/^\./, "")) || null; },
  };
  return e;
}

const frames = input.frames.map((f) => {
  const g = element({ "data-d": f.depth, "data-n": f.name });
  g.tag = "g";
  const r = element({ x: f.x.toFixed(2), width: f.w.toFixed(2) }); r.tag = "rect";
  const t = element({ x: (f.x + 3).toFixed(2) }); t.tag = "text";
  const title = element({}); title.tag = "title"; title.textContent = f.title;
  g.children = [title, r, t];
  return g;
});
const details = element({}); details.cls = "fg-details";
const reset = element({}); reset.cls = "fg-reset";
const svg = element({ width: input.width, "data-fg-pad": input.pad, "data-fg-charwidth": input.charWidth }, [details, reset]);
svg.querySelectorAll = (sel) => (sel === "g.fg-f" ? frames : []);
const me = { ownerSVGElement: svg };
new Function("document", script)({ currentScript: me, documentElement: svg });

function state() {
  return frames.map((g) => {
    const r = g.children[1], t = g.children[2];
    return { name: g.attrs["data-n"], hidden: g.style.display === "none", x: +r.attrs.x, w: +r.attrs.width, label: t.textContent };
  });
}
const byName = (n) => frames.find((g) => g.attrs["data-n"] === n);
byName(click).fire("mouseover");
const hover = details.textContent;
byName(click).fire("click");
const zoomed = state();
const resetVisible = reset.style.visibility;
reset.fire("click");
console.log(JSON.stringify({ hover, zoomed, resetVisible, restored: state() }));
