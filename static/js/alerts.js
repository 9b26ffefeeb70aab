/* The rule page: draw the preview chart again when htmx swaps in a new preview (the first one
 * is drawn by charts.js on load). */
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (ev) {
    var target = ev.detail && ev.detail.target;
    if (target && target.id === "rule-preview" && window.lambdaOpsCharts) window.lambdaOpsCharts.draw(target);
  });
})();
