// A plotly chart that Streamlit updates in place (see charts.py for why). Streamlit calls the default
// export again on the same element whenever the figure changes; each root keeps one Chart, which hands
// the newest figure to Plotly.react. Figures that arrive while one is being drawn are coalesced: only
// the latest is drawn, so a slow browser skips frames instead of queueing them.

/** window.Plotly, loading plotly.js from `url` once per page (the promise is shared through window, so that
 *  every copy of this module, whichever element loaded it, waits for the same script). */
function loadPlotly(url) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.aaeExplorerPlotly) {
    window.aaeExplorerPlotly = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => {
        window.aaeExplorerPlotly = null;
        script.remove();
        reject(new Error(`could not load ${url}`));
      };
      document.head.appendChild(script);
    });
  }
  return window.aaeExplorerPlotly;
}

class Chart {
  constructor(root) {
    this.root = root;
    this.plot = document.createElement("div");
    this.message = document.createElement("div");
    root.append(this.plot, this.message);
    this.next = null;
    this.busy = false;
  }

  update(data) {
    if (!data.figure) {   // a preload: only fetch plotly.js
      loadPlotly(data.plotly_url).catch((err) => { this.message.textContent = err.message; });
      return;
    }
    this.next = data;
    if (!this.busy) this.drain();
  }

  async drain() {
    this.busy = true;
    try {
      while (this.next) {
        const data = this.next;
        this.next = null;
        const Plotly = await loadPlotly(data.plotly_url);
        const figure = JSON.parse(data.figure);
        this.plot.style.height = `${data.height}px`;
        await Plotly.react(this.plot, figure.data, figure.layout, data.config);
        if (data.hover && !this.hoverBound) this.bindHover();
        this.message.textContent = "";
      }
    } catch (err) {
      this.message.textContent = `Chart failed: ${err.message}`;
    } finally {
      this.busy = false;
    }
  }

  /** Report the customdata (a code's index) of the point under the pointer, at most every 100 ms and only when
   *  it changes: each report is one round trip to Python, which shows that code's image. */
  bindHover() {
    this.hoverBound = true;
    let timer = null;
    let sent = null;
    this.plot.on("plotly_hover", (ev) => {
      const point = ev.points && ev.points[0];
      if (!point || typeof point.customdata !== "number" || point.customdata === sent) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        sent = point.customdata;
        this.setStateValue("hover", sent);
      }, 100);
    });
  }

  dispose() {
    if (window.Plotly) window.Plotly.purge(this.plot);
  }
}

const charts = new WeakMap();

export default function chart({ data, parentElement, setStateValue }) {
  const root = parentElement.querySelector(".aae-chart");
  let c = charts.get(root);
  if (!c) {
    c = new Chart(root);
    charts.set(root, c);
  }
  c.setStateValue = setStateValue;
  c.update(data);
  // Streamlit also calls this cleanup when newer data supersedes a call: dispose only a chart whose element left.
  return () => setTimeout(() => { if (!root.isConnected) { c.dispose(); charts.delete(root); } }, 0);
}
