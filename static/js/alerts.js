/* The rule page: draw the preview chart again when htmx swaps in a new preview (the first one
 * is drawn by charts.js on load). htmx drops the fragment's <script type="application/json">,
 * so the payload is rebuilt from #preview-payload's data attribute first. */
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (ev) {
    var target = ev.detail && ev.detail.target;
    if (!target || target.id !== "rule-preview" || !window.lambdaOpsCharts) return;
    var holder = target.querySelector("#preview-payload");
    if (!holder) return;
    var old = target.querySelector("#chart-data");
    if (old) old.remove();
    var data = document.createElement("script");
    data.type = "application/json";
    data.id = "chart-data";
    data.textContent = holder.getAttribute("data-payload");
    target.appendChild(data);
    window.lambdaOpsCharts.draw(target);
  });
})();
