// Log Center web UI behaviour. No inline scripts anywhere (the Content-Security-Policy forbids them): pages
// declare what they need with data- attributes and this file wires it up.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every HTMX request carries the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // Board polling: not while the reader has rows selected or the tab is hidden (keeps their place).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.getAttribute && elt.getAttribute("data-poll") === "board") {
      var busy = document.hidden || elt.querySelector("input[type=checkbox]:checked") ||
        elt.contains(document.activeElement) && document.activeElement.tagName === "INPUT";
      if (busy) event.preventDefault();
    }
  });

  // Errors of HTMX requests are shown in the notice area instead of vanishing.
  document.addEventListener("htmx:responseError", function (event) {
    var notice = document.getElementById("notice");
    if (notice) {
      notice.innerHTML = "";
      var xhr = event.detail.xhr;
      var box = document.createElement("div");
      box.className = "error";
      var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
      var found = doc.querySelector(".error");
      box.textContent = found ? found.textContent : "Error " + xhr.status;
      notice.appendChild(box);
    }
  });

  function localTimes(root) {
    root.querySelectorAll("time.abs[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) {
        el.title = el.textContent;
        el.textContent = d.toLocaleString(document.documentElement.lang, {
          year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"
        });
      }
    });
    root.querySelectorAll("time[datetime]:not(.abs)").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) el.title = d.toLocaleString(document.documentElement.lang);
    });
  }

  function copyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      if (button.dataset.wired) return;
      button.dataset.wired = "1";
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        if (!source) return;
        var text = source.textContent;
        var done = function () {
          var label = button.textContent;
          button.textContent = "✔";
          setTimeout(function () { button.textContent = label; }, 1200);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done);
        } else {
          var range = document.createRange();
          range.selectNodeContents(source);
          var selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          document.execCommand("copy");
          done();
        }
      });
    });
  }

  function confirmForms(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      if (form.dataset.wired) return;
      form.dataset.wired = "1";
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }

  function selectAll(root) {
    root.querySelectorAll("input.select-all").forEach(function (box) {
      if (box.dataset.wired) return;
      box.dataset.wired = "1";
      box.addEventListener("change", function () {
        var table = box.closest("table");
        table.querySelectorAll('input[name="bug_ids"]').forEach(function (b) { b.checked = box.checked; });
      });
    });
  }

  function diffModes(root) {
    root.querySelectorAll("[data-diff-mode]").forEach(function (button) {
      if (button.dataset.wired) return;
      button.dataset.wired = "1";
      button.addEventListener("click", function () {
        var split = button.getAttribute("data-diff-mode") === "split";
        var section = button.closest("section");
        section.querySelectorAll(".diff-unified").forEach(function (t) { t.hidden = split; });
        section.querySelectorAll(".diff-split").forEach(function (t) { t.hidden = !split; });
        section.querySelectorAll("[data-diff-mode]").forEach(function (b) {
          b.setAttribute("aria-pressed", String(b === button));
        });
      });
    });
  }

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  // Both charts have one point per UTC day: ticks and the legend show days (uPlot's default would add
  // times of day, "12am", "8am", to a week), labelled in the page's language.
  var DAY = 86400;
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function isoDay(ts) {
    var d = new Date(ts * 1000);
    return d.getUTCFullYear() + "-" + two(d.getUTCMonth() + 1) + "-" + two(d.getUTCDate());
  }
  function shortDay(ts) {
    var d = new Date(ts * 1000);
    return (d.getUTCMonth() + 1) + "/" + d.getUTCDate();
  }
  function dayAxis() {
    return {
      incrs: [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 90 * DAY, 365 * DAY],
      values: function (u, splits) { return splits.map(shortDay); },
    };
  }
  function daySeries(el) {
    return { label: el.getAttribute("data-x-label") || "Day", value: function (u, ts) { return ts == null ? "--" : isoDay(ts); } };
  }

  function charts(root) {
    if (typeof uPlot === "undefined") return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.wired) return;
      el.dataset.wired = "1";
      var data = readJSON(el.id + "-data");
      if (!data) return;
      var width = Math.max(280, el.clientWidth || 600);
      var opts, series;
      if (el.getAttribute("data-chart") === "occurrences") {
        opts = {
          width: width, height: 180,
          tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
          series: [daySeries(el), { label: el.getAttribute("data-label"), stroke: "#c0392b", fill: "rgba(192,57,43,0.15)" }],
          axes: [dayAxis(), {}],
        };
        series = [data.days, data.counts];
      } else {
        var days = data.days.map(function (d) { return Date.parse(d + "T00:00:00Z") / 1000; });
        opts = {
          width: width, height: 240,
          tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
          series: [daySeries(el),
            { label: el.getAttribute("data-l1"), stroke: "#2471a3", width: 2 },
            { label: el.getAttribute("data-l2"), stroke: "#1e8449", width: 2 },
            { label: el.getAttribute("data-l3"), stroke: "#c0392b", width: 2, dash: [6, 4] }],
          axes: [dayAxis(), {}],
        };
        series = [days, data.new, data.fixed, data.failed];
      }
      el.innerHTML = "";
      new uPlot(opts, series, el);
    });
  }

  function wire(root) {
    localTimes(root);
    copyButtons(root);
    confirmForms(root);
    selectAll(root);
    diffModes(root);
    charts(root);
  }

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:afterSettle", function (event) { wire(event.detail.elt || document); });
})();
