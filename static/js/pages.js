/* Behaviour every page shares, kept out of the HTML so the Content-Security-Policy can forbid
 * inline script and eval. htmx runs with allowEval off, so a trigger filter such as
 * "every 60s [document.visibilityState === 'visible']" cannot be written in the markup: an
 * element marked data-refresh-visible polls only while the tab is visible. */
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (ev) {
    var elt = ev.detail && ev.detail.elt;
    if (elt && elt.hasAttribute("data-refresh-visible") && document.visibilityState !== "visible") ev.preventDefault();
  });
})();
