// authgate console: progressive enhancement only. Every page works without this file.
// * forms with data-confirm ask before submitting (disconnect, revoke);
// * the connections table (data-poll) is refreshed in place from its JSON every few seconds,
//   so a token refresh shows up while one watches. Rows are updated, added and removed without
//   re-rendering the table, which keeps keyboard focus where it is.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form && form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  // A copy button for a new API key (shown only where the clipboard can be written).
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var said = button.parentNode.querySelector("[data-copied]");
    if (!source || !navigator.clipboard || !window.isSecureContext) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        if (said) {
          said.textContent = button.getAttribute("data-copied-text") || "";
        }
      });
    });
  });

  var table = document.getElementById("connections");
  if (!table || !window.fetch) {
    return;
  }
  var url = table.getAttribute("data-poll");
  var interval = Math.max(1, Number(table.getAttribute("data-interval")) || 3) * 1000;
  var tbody = table.tBodies[0];
  var template = document.getElementById("conn-row-template");
  var empty = document.getElementById("conn-empty");
  var updated = document.getElementById("conn-updated");
  var stopped = false;

  function setText(el, text) {
    if (el.textContent !== text) {
      el.textContent = text;
    }
  }

  function fill(tr, row) {
    tr.setAttribute("data-key", row.key);
    tr.querySelectorAll("[data-field]").forEach(function (el) {
      var field = el.getAttribute("data-field");
      if (field === "row_label") {
        setText(el, " " + row.provider_name + " " + row.owner);
        return;
      }
      setText(el, row[field] == null ? "" : String(row[field]));
      if (el.classList.contains("clip")) {
        el.title = el.textContent;
      }
      if (el.tagName === "TIME") {
        el.setAttribute("datetime", row[field + "_at"] || "");
      }
      if (field === "status_label") {
        el.className = "badge " + row.status;
        el.setAttribute("data-status", row.status);
      }
    });
    tr.querySelectorAll("input[name=provider]").forEach(function (el) { el.value = row.provider; });
    tr.querySelectorAll("input[name=owner]").forEach(function (el) { el.value = row.owner; });
  }

  function rowByKey(key) {
    for (var i = 0; i < tbody.rows.length; i++) {
      if (tbody.rows[i].getAttribute("data-key") === key) {
        return tbody.rows[i];
      }
    }
    return null;
  }

  function apply(data) {
    var keep = {};
    data.rows.forEach(function (row, index) {
      var tr = rowByKey(row.key);
      if (!tr) {
        tr = template.content.firstElementChild.cloneNode(true);
      }
      fill(tr, row);
      if (tbody.rows[index] !== tr) {
        tbody.insertBefore(tr, tbody.rows[index] || null);
      }
      keep[row.key] = true;
    });
    Array.prototype.slice.call(tbody.rows).forEach(function (tr) {
      if (!keep[tr.getAttribute("data-key")]) {
        tbody.removeChild(tr);
      }
    });
    empty.hidden = data.rows.length > 0;
    setText(updated, data.updated);
  }

  function schedule() {
    if (!stopped) {
      window.setTimeout(poll, interval);
    }
  }

  function poll() {
    if (document.hidden) {  // nobody is looking: ask again later
      schedule();
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) {
          stopped = true;  // signed out elsewhere: the next navigation shows the sign-in page
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data) {
          apply(data);
        }
      })
      .catch(function () { /* the gateway restarted or the network blinked: try again */ })
      .then(schedule);
  }

  table.setAttribute("data-live", "on");
  schedule();
})();
