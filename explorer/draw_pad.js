// The draw pad's browser half: a square canvas over the latent plane where the pointer draws strokes
// (a click without moving is a point), with Undo and Clear. The drawing goes to Python on each
// pointer release, as {strokes: [[[x, y], ...], ...], tags: [k or null, ...]} in latent coordinates.
// The models' codes come from Python and are drawn over it, so codes flowing onto the drawing show
// here. Streamlit calls the default export again on the same element whenever data changes: it keeps
// one Pad per root element, and a stroke being drawn survives a refresh.

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf"];
const MODEL_COLOURS = { AAE: "rgba(31, 119, 180, 0.55)", VAE: "rgba(255, 127, 14, 0.55)", AE: "rgba(44, 160, 44, 0.5)" };
const MIN_STEP_PX = 3; // a new vertex once the pointer moved this far: strokes stay short enough for a link
const pads = new WeakMap();

function el(tag, cls, parent, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

function xyOf(b64) {
  if (!b64) return new Float32Array(0);
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

class Pad {
  constructor(root) {
    this.root = root;
    const bar = el("div", "dp-toolbar", root);
    this.undo = el("button", "dp-undo", bar, "Undo stroke");
    this.clear = el("button", "dp-clear", bar, "Clear");
    this.canvas = el("canvas", "dp-canvas", root);
    this.legend = el("div", "dp-legend", root);
    this.strokes = [];
    this.tags = [];
    this.active = null;
    this.undo.onclick = () => { this.strokes.pop(); this.tags.pop(); this.commit(); };
    this.clear.onclick = () => { this.strokes = []; this.tags = []; this.commit(); };
    this.canvas.addEventListener("pointerdown", (e) => this.down(e));
    this.canvas.addEventListener("pointermove", (e) => this.move(e));
    this.canvas.addEventListener("pointerup", (e) => this.up(e));
    this.canvas.addEventListener("pointercancel", (e) => this.up(e));
  }

  update(data, setStateValue) {
    this.data = data;
    this.setStateValue = setStateValue;
    if (!this.active) {
      this.strokes = data.strokes.map((s) => s.map((p) => [p[0], p[1]]));
      this.tags = data.tags.slice();
    }
    this.codes = Object.fromEntries(Object.entries(data.codes || {}).map(([k, v]) => [k, xyOf(v)]));
    this.legend.replaceChildren(...Object.keys(this.codes).map((name) => {
      const item = el("span", "dp-legend-item");
      el("span", "dp-swatch", item).style.background = MODEL_COLOURS[name] || "#888";
      el("span", null, item, `${name} codes`);
      return item;
    }));
    this.draw();
  }

  size() {
    const px = Math.max(240, Math.min(this.root.clientWidth || 520, 560));
    const dpr = window.devicePixelRatio || 1;
    if (this.canvas.width !== px * dpr) {
      this.canvas.width = px * dpr;
      this.canvas.height = px * dpr;
      this.canvas.style.width = `${px}px`;
      this.canvas.style.height = `${px}px`;
    }
    return px;
  }

  toLatent(e) {
    const r = this.canvas.getBoundingClientRect();
    const [lo, hi] = this.data.range;
    return [lo + ((e.clientX - r.left) / r.width) * (hi - lo), hi - ((e.clientY - r.top) / r.height) * (hi - lo)];
  }

  toPx(x, y, px) {
    const [lo, hi] = this.data.range;
    return [((x - lo) / (hi - lo)) * px, ((hi - y) / (hi - lo)) * px];
  }

  down(e) {
    this.canvas.setPointerCapture(e.pointerId);
    this.active = [this.toLatent(e)];
    this.strokes.push(this.active);
    this.tags.push(this.data.tag);
    this.lastPx = [e.clientX, e.clientY];
    this.draw();
  }

  move(e) {
    if (!this.active) return;
    if (Math.hypot(e.clientX - this.lastPx[0], e.clientY - this.lastPx[1]) < MIN_STEP_PX) return;
    this.lastPx = [e.clientX, e.clientY];
    this.active.push(this.toLatent(e));
    this.draw();
  }

  up() {
    if (!this.active) return;
    this.active = null;
    this.commit();
  }

  commit() {
    this.draw();
    this.setStateValue("drawing", { strokes: this.strokes, tags: this.tags });
  }

  draw() {
    const px = this.size();
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(this.canvas.width / px, 0, 0, this.canvas.height / px, 0, 0);
    ctx.clearRect(0, 0, px, px);
    ctx.fillStyle = "#fafafa";
    ctx.fillRect(0, 0, px, px);
    ctx.strokeStyle = "rgba(0, 0, 0, 0.12)";
    const [o0, o1] = this.toPx(0, 0, px);
    ctx.beginPath(); ctx.moveTo(o0, 0); ctx.lineTo(o0, px); ctx.moveTo(0, o1); ctx.lineTo(px, o1); ctx.stroke();
    for (const [name, xy] of Object.entries(this.codes)) {
      ctx.fillStyle = MODEL_COLOURS[name] || "#888";
      for (let i = 0; i + 1 < xy.length; i += 2) {
        const [a, b] = this.toPx(xy[i], xy[i + 1], px);
        ctx.fillRect(a - 1.5, b - 1.5, 3, 3);
      }
    }
    ctx.lineWidth = 3;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    this.strokes.forEach((s, i) => {
      const tag = this.tags[i];
      ctx.strokeStyle = ctx.fillStyle = tag === null || tag === undefined ? "#222" : COLOURS[tag % COLOURS.length];
      if (s.length === 1) {
        const [a, b] = this.toPx(s[0][0], s[0][1], px);
        ctx.beginPath(); ctx.arc(a, b, 4, 0, 2 * Math.PI); ctx.fill();
        return;
      }
      ctx.beginPath();
      s.forEach(([x, y], j) => { const [a, b] = this.toPx(x, y, px); if (j) ctx.lineTo(a, b); else ctx.moveTo(a, b); });
      ctx.stroke();
    });
    this.undo.disabled = this.clear.disabled = !this.strokes.length;
  }
}

export default function drawPad({ data, parentElement, setStateValue }) {
  const root = parentElement.querySelector(".dp-root");
  let pad = pads.get(root);
  if (!pad) {
    pad = new Pad(root);
    pads.set(root, pad);
  }
  pad.update(data, setStateValue);
  return () => setTimeout(() => { if (!root.isConnected) pads.delete(root); }, 0);
}
