/* One chart pipeline: draws every figure that dashboard/charts built (one json_script payload
 * per page, #chart-data), keeps the time axes of all charts on a page together, writes a zoom
 * into the URL and reloads the data for it, opens a clicked bucket's error lines, follows a
 * clicked deploy label, and refreshes every 60 s while the tab is visible.
 *
 * A trace names its grid ("xgrid") instead of carrying x values: the grid is {start, step, n}
 * in epoch milliseconds, which a Plotly date axis reads as UTC. Nulls stay null (gaps). */
(function () {
  "use strict";

  var REFRESH_MS = 60 * 1000;
  var syncing = false;
  var lastRefresh = Date.now();
  var zoomTimer = null;

  function body() { return document.getElementById("function-body"); }

  // Plotly's date axis is zone-free; the server gives UTC wall time (or epoch ms), so add the Z back.
  function toIso(x) {
    if (typeof x === "number") return new Date(x).toISOString().replace(/\.\d+Z$/, "Z");
    var s = String(x).trim().replace(" ", "T");
    if (s.length === 10) s += "T00:00:00";
    if (s.length === 13) s += ":00:00";
    if (s.length === 16) s += ":00";
    return s.replace(/\.\d+$/, "") + "Z";
  }

  function charts(root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(".chart[data-chart]"));
  }

  function expand(grid) {
    var x = new Array(grid.n);
    for (var i = 0; i < grid.n; i++) x[i] = grid.start + i * grid.step;
    return x;
  }

  function payload(root) {
    var script = (root || document).querySelector("#chart-data");
    return script ? JSON.parse(script.textContent) : null;
  }

  function drawOne(el, p, xs) {
    var chart = p.charts[Number(el.getAttribute("data-chart"))];
    if (!chart) return Promise.resolve();
    var fig = chart.figure;
    fig.data.forEach(function (trace) {
      if (trace.xgrid) { trace.x = xs[trace.xgrid]; delete trace.xgrid; }
    });
    var config = { responsive: true, displaylogo: false, scrollZoom: false,
                   modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toImage"] };
    var meta = fig.layout.meta || {};
    return Plotly.newPlot(el, fig.data, fig.layout, config).then(function () {
      el.on("plotly_relayout", function (ev) { onRelayout(el, ev); });
      el.on("plotly_click", function (ev) { onClick(el, meta, ev); });
      el.on("plotly_clickannotation", function (ev) {
        var link = (meta.links || {})[String(ev.index)];
        if (link) window.location.assign(link);
      });
      el.setAttribute("data-drawn", "");  // drawn and listening (what tests and the benchmark wait for)
    });
  }

  // One chart per task, top of the page first: the page is usable (and painted) while the
  // charts below are still being drawn, instead of one long block of script.
  function draw(root) {
    if (!window.Plotly) return Promise.resolve();
    var p = payload(root);
    if (!p || !p.charts) return Promise.resolve();
    var xs = {};
    Object.keys(p.grids || {}).forEach(function (k) { xs[k] = expand(p.grids[k]); });
    var queue = charts(root);
    return new Promise(function (done) {
      function next() {
        var el = queue.shift();
        if (!el) { done(); return; }
        drawOne(el, p, xs).then(function () { setTimeout(next, 0); }, function () { setTimeout(next, 0); });
      }
      setTimeout(next, 0);
    });
  }

  function onRelayout(source, ev) {
    if (syncing) return;
    var r0 = ev["xaxis.range[0]"], r1 = ev["xaxis.range[1]"];
    if (r0 === undefined && ev["xaxis.range"]) { r0 = ev["xaxis.range"][0]; r1 = ev["xaxis.range"][1]; }
    if (r0 === undefined) return;  // y-only changes and resets are not range changes
    syncing = true;
    var others = charts().filter(function (el) { return el !== source && el.hasAttribute("data-drawn"); });
    Promise.all(others.map(function (el) {
      return Plotly.relayout(el, { "xaxis.range": [r0, r1] });
    })).finally(function () { syncing = false; });
    clearTimeout(zoomTimer);
    zoomTimer = setTimeout(function () { zoomTo(toIso(r0), toIso(r1)); }, 400);
  }

  function zoomTo(start, end) {
    var params = new URLSearchParams(window.location.search);
    params.set("range", "custom");
    params.set("start", start);
    params.set("end", end);
    history.replaceState(null, "", window.location.pathname + "?" + params.toString());
    // The range picker lives outside the swapped body: mark the custom range as the current one.
    document.querySelectorAll(".range-picker a.range").forEach(function (a) {
      a.classList.remove("active");
      a.removeAttribute("aria-current");
    });
    var custom = document.querySelector(".range-picker .custom-range");
    if (custom) {
      custom.classList.add("active");
      var summary = custom.querySelector("summary");
      if (summary) summary.textContent = start.slice(0, 16).replace("T", " ") + " – " + end.slice(0, 16).replace("T", " ") + " UTC";
      var inputs = custom.querySelectorAll("input[type=datetime-local]");
      if (inputs.length === 2) { inputs[0].value = start.slice(0, 16); inputs[1].value = end.slice(0, 16); }
    }
    reload();
  }

  function reload() {
    var el = body();
    if (!el) return;
    var url = el.getAttribute("data-charts-url") + window.location.search;
    lastRefresh = Date.now();
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (resp) {
        if (resp.status === 401 || resp.redirected) { window.location.reload(); return null; }
        return resp.ok ? resp.text() : null;
      })
      .then(function (html) {
        if (html === null) return;
        var panel = document.getElementById("minute-panel");
        var keep = panel ? panel.innerHTML : null;
        charts(el).forEach(function (c) { if (window.Plotly) Plotly.purge(c); });
        el.innerHTML = html;
        var fresh = document.getElementById("minute-panel");
        if (fresh && keep) fresh.innerHTML = keep;
        if (window.htmx) htmx.process(el);
        return draw(el).then(function () { document.dispatchEvent(new CustomEvent("charts:reloaded")); });
      })
      .catch(function () { /* next tick tries again */ });
  }

  function onClick(el, meta, ev) {
    if (!meta.minute_url || !ev.points || !ev.points.length) return;
    var x = ev.points[0].x;
    // A point may stand for a group of buckets: open the whole group, from its start.
    if (meta.bucket && meta.bucket.width) {
      var ms = typeof x === "number" ? x : Date.parse(toIso(x));
      x = meta.bucket.origin + Math.floor((ms - meta.bucket.origin) / meta.bucket.width) * meta.bucket.width;
    }
    var ts = toIso(x);
    var url = meta.minute_url + "?ts=" + encodeURIComponent(ts) + "&step=" + (meta.step || 60);
    var panel = document.getElementById("minute-panel");
    if (!panel) return;
    if (window.htmx) {
      htmx.ajax("GET", url, { target: "#minute-panel", swap: "innerHTML" });
    } else {
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.text(); })
        .then(function (html) { panel.innerHTML = html; });
    }
    panel.scrollIntoView({ behavior: "smooth", block: "nearest" });
  }

  // Live refresh: only while the tab is visible; catch up at once when it becomes visible.
  setInterval(function () {
    if (document.visibilityState === "visible" && body()) reload();
  }, REFRESH_MS);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && body() && Date.now() - lastRefresh > REFRESH_MS) reload();
  });

  // Plotly loads async (it is not needed to show the page): draw once it has run.
  function start() {
    if (window.Plotly) { draw(document); return; }
    var script = document.getElementById("plotly-js");
    if (script) script.addEventListener("load", function () { draw(document); }, { once: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  window.lambdaOpsCharts = { draw: draw, reload: reload, zoomTo: zoomTo };
})();
