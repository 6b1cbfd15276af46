// The live page refreshes its panels in place: it fetches /panels with the current filters
// every data-refresh seconds (paused while the tab is hidden) and swaps in the HTML the server
// rendered (every value already escaped there). The filter form applies without a reload.
(function () {
  "use strict";
  var body = document.body;
  var every = (parseInt(body.getAttribute("data-refresh"), 10) || 10) * 1000;
  var panels = document.getElementById("panels");
  var status = document.getElementById("status");
  var form = document.getElementById("filters");
  var timer = null;

  function query() {
    var params = new URLSearchParams();
    if (form) {
      new FormData(form).forEach(function (value, key) {
        if (value) { params.set(key, value); }
      });
    }
    return params.toString();
  }

  function show(text, stale) {
    status.textContent = text;
    status.className = stale ? "stale" : "";
  }

  function refresh() {
    var q = query();
    fetch("/panels" + (q ? "?" + q : ""), { cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.text();
      })
      .then(function (html) {
        panels.innerHTML = html;
        show("· updated " + new Date().toLocaleTimeString(), false);
      })
      .catch(function (e) { show("· not updated: " + e.message, true); })
      .finally(schedule);
  }

  function schedule() {
    clearTimeout(timer);
    if (!document.hidden) { timer = setTimeout(refresh, every); }
  }

  if (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var q = query();
      history.replaceState(null, "", "/" + (q ? "?" + q : ""));
      refresh();
    });
    form.addEventListener("change", function () { form.requestSubmit(); });
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { refresh(); } else { clearTimeout(timer); }
  });
  schedule();
})();
