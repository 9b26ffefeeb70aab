/* One chart pipeline: draws every figure that dashboard/charts.py built (json_script tags),
 * keeps the time axes of all charts on a page together, writes a zoom into the URL and
 * reloads the data for it, opens a clicked bucket's error lines, and refreshes every 60 s
 * while the tab is visible. */
(function () {
  "use strict";

  var REFRESH_MS = 60 * 1000;
  var syncing = false;
  var lastRefresh = Date.now();
  var zoomTimer = null;

  function body() { return document.getElementById("function-body"); }

  // Plotly's date axis is zone-free; the server gives UTC wall time, so add the Z back.
  function toIso(x) {
    var s = String(x).trim().replace(" ", "T");
    if (s.length === 10) s += "T00:00:00";
    if (s.length === 13) s += ":00:00";
    if (s.length === 16) s += ":00";
    return s.replace(/\.\d+$/, "") + "Z";
  }

  function charts(root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(".chart[data-figure]"));
  }

  function draw(root) {
    if (!window.Plotly) return;
    charts(root).forEach(function (el) {
      var script = document.getElementById(el.getAttribute("data-figure"));
      if (!script) return;
      var fig = JSON.parse(script.textContent);
      var config = { responsive: true, displaylogo: false, scrollZoom: false,
                     modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toImage"] };
      Plotly.newPlot(el, fig.data, fig.layout, config).then(function () {
        el.on("plotly_relayout", function (ev) { onRelayout(el, ev); });
        el.on("plotly_click", function (ev) { onClick(el, fig.layout.meta || {}, ev); });
      });
    });
  }

  function onRelayout(source, ev) {
    if (syncing) return;
    var r0 = ev["xaxis.range[0]"], r1 = ev["xaxis.range[1]"];
    if (r0 === undefined && ev["xaxis.range"]) { r0 = ev["xaxis.range"][0]; r1 = ev["xaxis.range"][1]; }
    if (r0 === undefined) return;  // y-only changes and resets are not range changes
    syncing = true;
    var others = charts().filter(function (el) { return el !== source; });
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
        draw(el);
        document.dispatchEvent(new CustomEvent("charts:reloaded"));
      })
      .catch(function () { /* next tick tries again */ });
  }

  function onClick(el, meta, ev) {
    if (!meta.minute_url || !ev.points || !ev.points.length) return;
    var ts = toIso(ev.points[0].x);
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

  function start() { draw(document); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  window.lambdaOpsCharts = { draw: draw, reload: reload, zoomTo: zoomTo };
})();
