// The latent pad's browser half: a canvas scatter of codes you can drag a point across, and a
// JavaScript copy of each decoder so the decoded image follows the pointer with no server round trip.
//
// Two parts. The pure decoder (base64ToFloat32, loadDecoder, decode) touches no DOM, so the unit
// tests import this very file under node and compare it with torch. The default export is the
// Streamlit components-v2 entry point; Streamlit calls it again on the same element whenever the
// data changes, so it keeps one Pad per root element and only updates it.

// ---------------------------------------------------------------- pure decoder (runs under node)

/** Bytes of a base64 string. */
export function base64ToBytes(b64) {
  // Native decoding (Chromium 140+) is several times faster on the multi-megabyte weights.
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(b64);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Float32 values of a base64 string of little-endian float32s (every browser and node host is little-endian). */
export function base64ToFloat32(b64) {
  const bytes = base64ToBytes(b64);
  if (bytes.byteLength % 4) throw new Error(`float32 data: ${bytes.byteLength} bytes is not a multiple of 4`);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/**
 * A decoder from its wire spec {layers: [[in, out], ...], weights: base64}. For each layer the
 * weights hold W transposed (in x out, row-major: row k is input k's outgoing weights) then the bias.
 */
export function loadDecoder(spec) {
  const flat = base64ToFloat32(spec.weights);
  const layers = [];
  let at = 0;
  let widest = 0;
  for (const [nin, nout] of spec.layers) {
    const w = flat.subarray(at, at + nin * nout);
    const b = flat.subarray(at + nin * nout, at + nin * nout + nout);
    at += nin * nout + nout;
    layers.push({ nin, nout, w, b });
    widest = Math.max(widest, nout);
  }
  if (at !== flat.length) throw new Error(`decoder weights: the layers need ${at} floats, got ${flat.length}`);
  // Float64 accumulators: the sums come out slightly more exact than torch's float32 ones.
  return { layers, acc: [new Float64Array(widest), new Float64Array(widest)], inDim: spec.layers[0][0] };
}

/** sigmoid(MLP(z)) into out (length = the last layer's width): Linear, then ReLU between layers. */
export function decode(net, z, out) {
  let h = z;
  const last = net.layers.length - 1;
  for (let l = 0; l <= last; l++) {
    const { nin, nout, w, b } = net.layers[l];
    const y = net.acc[l & 1];
    for (let o = 0; o < nout; o++) y[o] = b[o];
    // Input-major order (y += h[k] * W^T[k]): the inner loop runs over contiguous memory, and
    // inputs that ReLU zeroed (about half) are skipped outright.
    for (let k = 0; k < nin; k++) {
      const hk = h[k];
      if (hk === 0) continue;
      const row = k * nout;
      for (let o = 0; o < nout; o++) y[o] += hk * w[row + o];
    }
    if (l < last) {
      for (let o = 0; o < nout; o++) if (y[o] < 0) y[o] = 0;
      h = y;
    } else {
      for (let o = 0; o < nout; o++) out[o] = 1 / (1 + Math.exp(-y[o]));
    }
  }
  return out;
}

// ---------------------------------------------------------------- browser part

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
// Each pad's data area is a square of `size` CSS px: the width the page gives a panel, within these bounds.
const MIN_PAD_PX = 240;
const MAX_PAD_PX = 460;
const PANEL_GAP_PX = 24;      // between panels (.lp-panels gap)
const MARGIN = { l: 32, r: 10, t: 10, b: 22 };   // around the data area: tick labels sit here, never clipped
const AXIS_FONT = "11px sans-serif";
const THUMB_PX = 44;         // pin thumbnails
const MAX_CACHED = 8;        // decoders kept across reruns, keyed by model name and version
const REQUEST_RETRY_MS = 3000;

// Decoders survive reruns and remounts (the module is loaded once per page), so weights cross the
// wire once per model version; a miss asks Python to send them again.
const decoderCache = new Map();
const pads = new WeakMap();
// Timing and counters for the browser test and bench/bench_pad.py (one set per page).
const stats = {
  frames: 0, decodeMs: [], latencyMs: [], weightLoads: 0, weightRequests: 0, updates: 0, ready: false,
  reset() { this.frames = 0; this.decodeMs = []; this.latencyMs = []; },
  dropDecoders() { decoderCache.clear(); },   // lets the browser test exercise the resend handshake
};

function cacheDecoder(id, net) {
  decoderCache.delete(id);
  decoderCache.set(id, net);
  while (decoderCache.size > MAX_CACHED) decoderCache.delete(decoderCache.keys().next().value);
}

function el(tag, cls, parent, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

function pixelCanvas(cls, parent, w, h, cssW, cssH) {
  const c = el("canvas", cls, parent);
  c.width = w; c.height = h;
  c.style.width = `${cssW}px`; c.style.height = `${cssH}px`;
  return c;
}

/** Paint grey values in [0, 1] (row-major h x w) into a canvas at (dx, 0). */
function paintGray(ctx, values, h, w, dx = 0) {
  const img = ctx.createImageData(w, h);
  const px = img.data;
  for (let i = 0; i < h * w; i++) {
    const v = values[i] * 255;
    px[4 * i] = v; px[4 * i + 1] = v; px[4 * i + 2] = v; px[4 * i + 3] = 255;
  }
  ctx.putImageData(img, dx, 0);
}

function niceTicks(lo, hi) {
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(Math.abs(t) < step / 1e6 ? 0 : t);
  return ticks;
}

function fmt(v) { return (Math.round(v * 1000) / 1000).toFixed(3); }

/** The pad size (CSS px of the square data area) for `n` panels side by side in `width` px. */
export function padSize(width, n) {
  const per = (width - PANEL_GAP_PX * (n - 1)) / Math.max(1, n) - MARGIN.l - MARGIN.r;
  return Math.round(Math.min(MAX_PAD_PX, Math.max(MIN_PAD_PX, per)));
}

class Pad {
  constructor(root) {
    this.root = root;
    this.panels = [];
    this.layout = "";
    this.points = null;      // {model name: [x, y]} in pad coordinates, or null before the first click
    this.pins = [];          // [{model name: [x, y]}]
    this.linked = true;
    this.path = ["pin:0", "point"];
    this.drag = null;
    this.raf = 0;
    this.pendingSince = null;
    this.thumbsDirty = true;
    this.lastRequest = -Infinity;
    this.newerTimer = 0;
    this.size = padSize(root.clientWidth || 0, 2);
    window.__padStats = stats;
    this.buildToolbar();
    // Panels follow the page's width (a wide page gets wide pads): rebuilt when the size they should have changes.
    this.resize = new ResizeObserver(() => {
      if (!this.data) return;
      const size = padSize(this.root.clientWidth, this.data.models.length);
      if (size !== this.size) this.update(this.data, this.setStateValue, this.setTriggerValue);
    });
    this.resize.observe(root);
  }

  // ---- data from Python

  update(data, setStateValue, setTriggerValue) {
    this.setStateValue = setStateValue;
    this.setTriggerValue = setTriggerValue;
    if (!this.data) this.restore(data.state || {});
    this.data = data;
    this.size = padSize(this.root.clientWidth, data.models.length);
    const layout = JSON.stringify([data.models.map((m) => m.name), data.image_shape, this.size]);
    if (layout !== this.layout) this.buildPanels(data.models);
    this.layout = layout;
    this.legend(data);
    data.models.forEach((m, i) => this.updatePanel(this.panels[i], m));
    this.requestMissingWeights();
    stats.range = data.range;
    stats.area = { left: MARGIN.l, top: MARGIN.t, size: this.size };   // the data area within each pad canvas
    stats.updates += 1;
    stats.ready = true;
    this.thumbsDirty = true;
    this.refreshPathOptions();
    this.schedule();
  }

  restore(state) {
    if (state.point && Object.keys(state.point).length) this.points = structuredClone(state.point);
    if (Array.isArray(state.pins)) this.pins = structuredClone(state.pins);
    if (typeof state.linked === "boolean") this.linked = state.linked;
    if (Array.isArray(state.path) && state.path.length === 2) this.path = state.path.slice();
    this.linkBox.checked = this.linked;
  }

  updatePanel(p, m) {
    p.model = m;
    p.codes = base64ToFloat32(m.codes_xy);
    p.prior = base64ToFloat32(m.prior_xy);
    p.net = null;
    if (m.decoder) {
      const id = `${m.name}@${m.decoder.version}`;
      if (m.decoder.spec) {
        cacheDecoder(id, loadDecoder(m.decoder.spec));
        stats.weightLoads += 1;
      }
      p.net = decoderCache.get(id) || null;
    }
    p.mode.textContent = !m.decoder ? `decoded on the server when you release: ${m.fallback}`
      : m.decoder.newer_in ? "decoded in your browser while you drag (its weights catch up every few seconds)"
      : "decoded in your browser while you drag";
    p.mode.classList.toggle("lp-fallback", !m.decoder);
    if (!m.decoder && m.server && m.server.point) p.serverImage.src = m.server.point;
    this.showImage(p);
    this.drawBase(p);
  }

  /**
   * Ask Python for weights this page lacks though Python believes it sent them (e.g. the run that
   * carried them was cut short), and, when Python held newer weights back ("newer_in" seconds:
   * live training of a large decoder), ask for them once they may travel, in case no rerun comes.
   */
  requestMissingWeights() {
    clearTimeout(this.newerTimer);
    const missing = this.panels.filter((p) => p.model.decoder && !p.net).map((p) => p.model.name);
    const now = performance.now();
    // One request for all models (each request costs a rerun), and not again while one is in flight.
    if (missing.length && now - this.lastRequest >= REQUEST_RETRY_MS) {
      this.lastRequest = now;
      stats.weightRequests += 1;
      this.setTriggerValue("need_weights", missing);
    }
    const held = this.panels.filter((p) => p.model.decoder && p.model.decoder.newer_in);
    if (held.length) {
      const wait = Math.max(...held.map((p) => p.model.decoder.newer_in));
      this.newerTimer = setTimeout(() => this.setTriggerValue("need_weights", held.map((p) => p.model.name)),
                                   1000 * wait + 250);
    }
  }

  // ---- DOM

  buildToolbar() {
    this.root.replaceChildren();
    const bar = el("div", "lp-toolbar", this.root);
    const link = el("label", "lp-link", bar);
    this.linkBox = el("input", "", link);
    this.linkBox.type = "checkbox";
    this.linkBox.checked = this.linked;
    link.append(" link pads (same z on every model)");
    this.linkBox.addEventListener("change", () => this.setLinked(this.linkBox.checked));
    const pin = el("button", "lp-pin", bar, "Pin point");
    pin.addEventListener("click", () => this.addPin());
    const clear = el("button", "lp-clear", bar, "Clear pins");
    clear.addEventListener("click", () => {
      this.pins = [];
      this.thumbsDirty = true;
      this.refreshPathOptions();
      this.schedule();
      this.commit();
    });
    el("span", "lp-label", bar, "path");
    this.pathFrom = el("select", "lp-path-from", bar);
    el("span", "lp-label", bar, "\u2192");
    this.pathTo = el("select", "lp-path-to", bar);
    for (const [i, s] of [this.pathFrom, this.pathTo].entries()) {
      s.addEventListener("change", () => { this.path[i] = s.value; this.thumbsDirty = true; this.schedule(); this.commit(); });
    }
    this.legendBox = el("div", "lp-legend", this.root);
    this.panelRow = el("div", "lp-panels", this.root);
  }

  buildPanels(models) {
    this.panelRow.replaceChildren();
    this.panels = models.map((m) => {
      const box = el("div", "lp-panel", this.panelRow);
      box.dataset.model = m.name;
      const size = this.size;
      const [cw, ch] = [size + MARGIN.l + MARGIN.r, size + MARGIN.t + MARGIN.b];
      box.style.width = `${cw}px`;
      el("div", "lp-title", box, m.name);
      const mode = el("div", "lp-mode", box);
      const plot = el("div", "lp-plot", box);
      plot.style.width = `${cw}px`;
      plot.style.height = `${ch}px`;
      const dpr = window.devicePixelRatio || 1;
      const base = pixelCanvas("lp-base", plot, cw * dpr, ch * dpr, cw, ch);
      const overlay = pixelCanvas("lp-overlay", plot, cw * dpr, ch * dpr, cw, ch);
      const below = el("div", "lp-below", box);
      const [h, w] = this.data.image_shape;
      const imagePx = Math.round(Math.min(168, Math.max(112, 0.4 * size)));
      const scale = imagePx / Math.max(h, w);
      const frame = el("div", "lp-image-frame", below);
      frame.style.width = `${w * scale}px`;
      frame.style.height = `${h * scale}px`;
      const placeholder = el("div", "lp-placeholder", frame, "click the pad: the decoded image appears here");
      const image = pixelCanvas("lp-image", frame, w, h, w * scale, h * scale);
      const serverImage = el("img", "lp-image lp-server-image", frame);
      serverImage.style.width = `${w * scale}px`;
      serverImage.style.height = `${h * scale}px`;
      const side = el("div", "lp-side", below);
      const readout = el("div", "lp-readout", side, "z = (…)");
      el("div", "lp-caption", side, "pins");
      const pins = el("div", "lp-pins", side);
      el("div", "lp-caption", box, "path");
      const strip = el("div", "lp-strip", box);
      const p = { box, mode, plot, base, overlay, readout, image, serverImage, placeholder, pins, strip, h, w,
                  pixels: new Float32Array(h * w) };
      for (const type of ["pointerdown", "pointermove", "pointerup", "pointercancel"]) {
        overlay.addEventListener(type, (ev) => this.onPointer(p, ev));
      }
      return p;
    });
  }

  legend(data) {
    this.legendBox.replaceChildren();
    data.classes.forEach((name, i) => {
      const item = el("span", "lp-legend-item", this.legendBox);
      el("span", "lp-swatch", item).style.background = COLORS[i % COLORS.length];
      item.append(name);
    });
    const prior = el("span", "lp-legend-item", this.legendBox);
    el("span", "lp-swatch lp-swatch-prior", prior);
    prior.append("prior samples");
  }

  refreshPathOptions() {
    const options = [["point", "point"], ...this.pins.map((_, i) => [`pin:${i}`, `pin ${i + 1}`])];
    for (const [i, s] of [this.pathFrom, this.pathTo].entries()) {
      s.replaceChildren(...options.map(([value, label]) => { const o = el("option"); o.value = value; o.textContent = label; return o; }));
      if (!options.some(([v]) => v === this.path[i])) this.path[i] = i === 0 && this.pins.length ? "pin:0" : "point";
      s.value = this.path[i];
    }
  }

  /** Before the first click a placeholder, not a black square; then the browser's image, or the server's. */
  showImage(p) {
    const placed = Boolean(this.points && this.points[p.model.name]);
    const server = !p.model.decoder;
    p.placeholder.style.display = placed && (!server || p.serverImage.getAttribute("src")) ? "none" : "";
    p.image.style.display = placed && !server ? "" : "none";
    p.serverImage.style.display = placed && server && p.serverImage.getAttribute("src") ? "" : "none";
  }

  // ---- coordinates (CSS px within a pad canvas; the data area starts at MARGIN.l, MARGIN.t)

  toPixel(x, y) {
    const [x0, x1, y0, y1] = this.data.range;
    return [MARGIN.l + (x - x0) / (x1 - x0) * this.size, MARGIN.t + (y1 - y) / (y1 - y0) * this.size];
  }

  toData(p, ev) {
    const r = this.dragRect;
    const px = Math.min(Math.max(ev.clientX - r.left - MARGIN.l, 0), this.size);
    const py = Math.min(Math.max(ev.clientY - r.top - MARGIN.t, 0), this.size);
    const [x0, x1, y0, y1] = this.data.range;
    return [x0 + px / this.size * (x1 - x0), y1 - py / this.size * (y1 - y0)];
  }

  /** The full latent vector a model decodes at pad point xy: origin + x u + y v. */
  latent(p, xy) {
    const { origin, u, v } = p.model.plane;
    return origin.map((o, i) => o + xy[0] * u[i] + xy[1] * v[i]);
  }

  // ---- interaction

  onPointer(p, ev) {
    if (ev.type === "pointerdown") {
      ev.preventDefault();
      p.overlay.setPointerCapture(ev.pointerId);
      this.drag = p;
      // Measured once per drag: reading layout on every move would force a relayout after each repaint.
      this.dragRect = p.overlay.getBoundingClientRect();
    } else if (this.drag !== p) {
      return;
    }
    const xy = this.toData(p, ev);
    if (!this.points) this.points = {};
    for (const q of this.panels) if (this.linked || q === p || !this.points[q.model.name]) this.points[q.model.name] = xy.slice();
    if (this.pendingSince === null) this.pendingSince = ev.timeStamp;
    this.schedule();
    if (ev.type === "pointerup" || ev.type === "pointercancel") {
      this.drag = null;
      this.thumbsDirty = true;
      this.commit();
    }
  }

  setLinked(on) {
    this.linked = on;
    if (on && this.points) {
      const lead = this.points[this.panels[0].model.name];
      for (const q of this.panels) this.points[q.model.name] = lead.slice();
      this.thumbsDirty = true;
      this.schedule();
    }
    this.commit();
  }

  addPin() {
    if (!this.points) return;
    this.pins.push(structuredClone(this.points));
    if (this.pins.length === 1) this.path = ["pin:0", "point"];
    this.thumbsDirty = true;
    this.refreshPathOptions();
    this.schedule();
    this.commit();
  }

  commit() {
    this.setStateValue("pad", { point: this.points || {}, pins: this.pins, linked: this.linked, path: this.path });
  }

  // ---- drawing

  schedule() {
    if (!this.raf) this.raf = requestAnimationFrame(() => this.frame());
  }

  frame() {
    this.raf = 0;
    const t0 = performance.now();
    for (const p of this.panels) {
      const xy = this.points && this.points[p.model.name];
      if (xy) {
        const z = this.latent(p, xy);
        p.readout.textContent = `z = (${z.map(fmt).join(", ")})`;
        if (p.image.style.display === "none" && p.net) this.showImage(p);
        if (p.net) {
          decode(p.net, z, p.pixels);
          paintGray(p.image.getContext("2d"), p.pixels, p.h, p.w);
        }
      }
      this.drawOverlay(p);
    }
    const pathMoves = this.drag && this.path.includes("point");
    if (this.thumbsDirty || pathMoves) this.drawPath();
    if (this.thumbsDirty) this.drawPins();
    this.thumbsDirty = false;
    const t1 = performance.now();
    if (this.pendingSince !== null) {
      stats.frames += 1;
      stats.decodeMs.push(t1 - t0);
      stats.latencyMs.push(t1 - this.pendingSince);
      this.pendingSince = null;
      if (stats.decodeMs.length > 5000) stats.reset();
    }
    stats.points = this.points && structuredClone(this.points);
  }

  /** A pad canvas's 2-D context in CSS px, cleared; drawing is clipped to the data area unless `whole`. */
  context(canvas, whole = false) {
    const ctx = canvas.getContext("2d");
    const s = canvas.width / parseFloat(canvas.style.width);
    ctx.setTransform(s, 0, 0, s, 0, 0);
    ctx.clearRect(0, 0, canvas.width / s, canvas.height / s);
    ctx.save();
    if (!whole) {
      ctx.beginPath();
      ctx.rect(MARGIN.l, MARGIN.t, this.size, this.size);
      ctx.clip();
    }
    return ctx;
  }

  drawBase(p) {
    const ctx = this.context(p.base);
    ctx.fillStyle = "#fff";
    ctx.fillRect(MARGIN.l, MARGIN.t, this.size, this.size);
    ctx.fillStyle = "rgba(140, 140, 140, 0.25)";
    for (let i = 0; i < p.prior.length; i += 2) {
      const [px, py] = this.toPixel(p.prior[i], p.prior[i + 1]);
      ctx.fillRect(px - 1, py - 1, 2, 2);
    }
    const labels = this.data.labels;
    ctx.globalAlpha = 0.75;
    for (let i = 0; i < p.codes.length; i += 2) {
      ctx.fillStyle = COLORS[(labels ? labels[i / 2] : 0) % COLORS.length];
      const [px, py] = this.toPixel(p.codes[i], p.codes[i + 1]);
      ctx.beginPath();
      ctx.arc(px, py, 2, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    ctx.restore();
    this.drawAxes(ctx);
  }

  /** The frame, ticks and tick labels in the margins around the data area (recorded in stats for the browser test). */
  drawAxes(ctx) {
    const [x0, x1, y0, y1] = this.data.range;
    const [ax, ay] = this.data.axis_names;
    const { l, t: top } = MARGIN;
    const bottom = top + this.size;
    ctx.strokeStyle = "rgba(49, 51, 63, 0.25)";
    ctx.strokeRect(l - 0.5, top - 0.5, this.size + 1, this.size + 1);
    ctx.fillStyle = "rgba(49, 51, 63, 0.8)";
    ctx.strokeStyle = "rgba(49, 51, 63, 0.45)";
    ctx.font = AXIS_FONT;
    const boxes = [];
    const label = (text, x, y, align, baseline) => {
      ctx.textAlign = align;
      ctx.textBaseline = baseline;
      ctx.fillText(text, x, y);
      const width = ctx.measureText(text).width;
      const left = align === "center" ? x - width / 2 : align === "right" ? x - width : x;
      const height = 11;
      const upper = baseline === "top" ? y : baseline === "middle" ? y - height / 2 : y - height;
      boxes.push([left, upper, left + width, upper + height]);
    };
    for (const t of niceTicks(x0, x1)) {
      const [px] = this.toPixel(t, 0);
      ctx.beginPath(); ctx.moveTo(px, bottom); ctx.lineTo(px, bottom + 4); ctx.stroke();
      label(String(+t.toPrecision(3)), px, bottom + 5, "center", "top");
    }
    for (const t of niceTicks(y0, y1)) {
      const [, py] = this.toPixel(0, t);
      ctx.beginPath(); ctx.moveTo(l - 4, py); ctx.lineTo(l, py); ctx.stroke();
      label(String(+t.toPrecision(3)), l - 6, py, "right", "middle");
    }
    ctx.font = `italic ${AXIS_FONT}`;
    label(ax, l + this.size - 3, bottom - 3, "right", "bottom");
    label(ay, l + 4, top + 3, "left", "top");
    stats.labelBoxes = boxes;
    stats.canvasSize = [this.size + MARGIN.l + MARGIN.r, this.size + MARGIN.t + MARGIN.b];
  }

  drawOverlay(p) {
    const ctx = this.context(p.overlay);
    const name = p.model.name;
    const ends = this.pathEnds(name);
    if (ends) {
      const [a, b] = ends.map(([x, y]) => this.toPixel(x, y));
      ctx.setLineDash([4, 3]);
      ctx.strokeStyle = "#333";
      ctx.beginPath(); ctx.moveTo(...a); ctx.lineTo(...b); ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.font = "bold 10px sans-serif";
    this.pins.forEach((pin, i) => {
      if (!pin[name]) return;
      const [px, py] = this.toPixel(...pin[name]);
      ctx.fillStyle = "#fff"; ctx.strokeStyle = "#000";
      ctx.fillRect(px - 6, py - 6, 12, 12); ctx.strokeRect(px - 6, py - 6, 12, 12);
      ctx.fillStyle = "#000"; ctx.fillText(String(i + 1), px - 3, py + 4);
    });
    const xy = this.points && this.points[name];
    if (xy) {
      const [px, py] = this.toPixel(...xy);
      ctx.lineWidth = 2.5;
      ctx.fillStyle = "#fff"; ctx.strokeStyle = "#000";
      ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
      ctx.lineWidth = 1;
    }
    ctx.restore();
  }

  endpoint(which, name) {
    if (which === "point") return this.points && this.points[name];
    const pin = this.pins[Number(which.slice(4))];
    return pin && pin[name];
  }

  pathEnds(name) {
    const a = this.endpoint(this.path[0], name);
    const b = this.endpoint(this.path[1], name);
    return a && b && this.path[0] !== this.path[1] ? [a, b] : null;
  }

  drawPath() {
    const steps = this.data.path_steps;
    for (const p of this.panels) {
      const ends = this.pathEnds(p.model.name);
      if (!ends) { p.strip.replaceChildren(el("span", "lp-hint", null, "pin a point, then pick two ends")); continue; }
      if (!p.net) {
        const uri = p.model.server && p.model.server.path;
        p.strip.replaceChildren(uri ? Object.assign(el("img", "lp-strip-image"), { src: uri })
                                    : el("span", "lp-hint", null, "updates when you release"));
        continue;
      }
      let c = p.strip.querySelector("canvas");
      const cell = this.size / steps;    // the strip spans the pad's width
      if (!c) c = pixelCanvas("lp-strip-image", null, p.w * steps, p.h, cell * steps, cell * p.h / p.w);
      if (!c.isConnected) p.strip.replaceChildren(c);
      const ctx = c.getContext("2d");
      const [a, b] = ends;
      for (let s = 0; s < steps; s++) {
        const t = s / (steps - 1);
        decode(p.net, this.latent(p, [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]), p.pixels);
        paintGray(ctx, p.pixels, p.h, p.w, s * p.w);
      }
    }
  }

  drawPins() {
    for (const p of this.panels) {
      const name = p.model.name;
      const cells = this.pins.map((pin, i) => {
        const cell = el("div", "lp-pin-cell");
        el("div", "lp-pin-label", cell, String(i + 1));
        const server = p.model.server && p.model.server.pins && p.model.server.pins[i];
        if (p.net && pin[name]) {
          decode(p.net, this.latent(p, pin[name]), p.pixels);
          const c = pixelCanvas("lp-thumb", cell, p.w, p.h, THUMB_PX, THUMB_PX);
          paintGray(c.getContext("2d"), p.pixels, p.h, p.w);
        } else if (server) {
          Object.assign(el("img", "lp-thumb", cell), { src: server });
        }
        return cell;
      });
      p.pins.replaceChildren(...(cells.length ? cells : [el("span", "lp-hint", null, "no pins yet")]));
    }
  }

  dispose() {
    this.resize.disconnect();
    clearTimeout(this.newerTimer);
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
  }
}

export default function latentPad({ data, parentElement, setStateValue, setTriggerValue }) {
  const root = parentElement.querySelector(".lp-root");
  let pad = pads.get(root);
  if (!pad) {
    pad = new Pad(root);
    pads.set(root, pad);
  }
  pad.update(data, setStateValue, setTriggerValue);
  // Streamlit also calls this cleanup when a newer data update supersedes a call, so only a pad
  // whose element really left the page is disposed.
  return () => setTimeout(() => { if (!root.isConnected) { pad.dispose(); pads.delete(root); } }, 0);
}
