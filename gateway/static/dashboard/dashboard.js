// smsguard dashboard: live refresh of the element marked data-live (the overview and events pages).
// The server renders the fragment (?partial=1); this script only swaps it in. Pages work without it.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !live.dataset.live) { return; }
  var url = live.dataset.live;
  var every = Math.max(1, parseInt(live.dataset.refresh || "5", 10)) * 1000;
  var busy = false;

  function refresh() {
    // Do not swap the table under a user who is about to click in it.
    if (busy || document.hidden || live.matches(":hover") || live.contains(document.activeElement)) {
      return;
    }
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) {
        if (r.status === 401 || r.redirected) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html !== null && html !== undefined) {
          live.innerHTML = html;
          live.dataset.updated = String(Date.now());
        }
      })
      .catch(function () { /* keep the last view; try again next time */ })
      .then(function () { busy = false; });
  }

  window.setInterval(refresh, every);
})();
